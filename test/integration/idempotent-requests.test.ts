/** Idempotency-Key records on DynamoDB Local, with a clock the test moves. */
import { beforeAll, describe, expect, it } from "vitest";
import { fingerprint, IdempotentRequests } from "../../shared/idempotency/requests.ts";
import { createPkTable, isolatedDocuments } from "../support/dynamodb.ts";

const documents = isolatedDocuments();
let table: string;
let clock = 1_000_000;
let n = 0;
const requests = (target: Pick<typeof documents, "send"> = documents) =>
  new IdempotentRequests(target, table, { inProgressMs: 30_000, now: () => clock });

beforeAll(async () => {
  table = await createPkTable(documents, "IdempotentRequests");
});

describe("idempotent requests", () => {
  it("runs the first request, replays its answer to a retry, refuses another request with the key", async () => {
    const key = `k${n++}`;
    const same = fingerprint("PUT /kv/a", '{"value":1}');
    const begun = await requests().begin(key, same);
    expect(begun.status).toBe("new");
    // A retry while the first still runs.
    expect(await requests().begin(key, same)).toMatchObject({ status: "in-progress", retryAfterMs: 30_000 });
    await requests().complete(key, (begun as { token: string }).token, {
      statusCode: 200,
      body: '{"version":"1"}',
    });
    expect(await requests().begin(key, same)).toEqual({
      status: "replay",
      response: { statusCode: 200, body: '{"version":"1"}' },
    });
    expect(await requests().begin(key, fingerprint("PUT /kv/a", '{"value":2}'))).toEqual({
      status: "mismatch",
    });
  });

  it("runs a request again once the first gave its key up (a 5xx) or died holding it", async () => {
    const key = `k${n++}`;
    const same = fingerprint("x");
    const first = (await requests().begin(key, same)) as { token: string };
    await requests().abandon(key, first.token);
    const second = (await requests().begin(key, same)) as { status: string; token: string };
    expect(second.status).toBe("new");
    // The second dies without an answer: after its lease, a retry runs; the dead one can store nothing.
    clock += 30_001;
    const third = (await requests().begin(key, same)) as { status: string; token: string };
    expect(third.status).toBe("new");
    await requests().complete(key, second.token, { statusCode: 200, body: "stale" });
    await requests().complete(key, third.token, { statusCode: 201, body: "fresh" });
    expect(await requests().begin(key, same)).toMatchObject({ response: { statusCode: 201, body: "fresh" } });
  });

  it("takes a record its own first attempt wrote (the SDK's retry after a lost answer) as its own", async () => {
    const twice = {
      send: async (command: never) => {
        await documents.send(command).catch(() => {});
        return documents.send(command);
      },
    };
    expect((await requests(twice).begin(`k${n++}`, fingerprint("y"))).status).toBe("new");
  });
});
