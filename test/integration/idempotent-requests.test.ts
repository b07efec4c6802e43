/** Idempotency-Key records on DynamoDB Local, with a clock the test moves, alone and behind the router. */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { api, pick } from "../../packages/core/src/api/contract.ts";
import { type ErrorCode, fail } from "../../packages/core/src/errors.ts";
import { contractRouter } from "../../packages/core/src/http/router.ts";
import { fingerprint, IdempotentRequests } from "../../packages/core/src/idempotency/requests.ts";
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
    // Given up after a 5xx: nothing of the first run can be in progress, so this is no re-run.
    expect(second).toMatchObject({ status: "new", rerun: false });
    // The second dies without an answer: after its lease, a retry runs, told that the dead run may have
    // acted; the dead one can store nothing.
    clock += 30_001;
    const third = (await requests().begin(key, same)) as { status: string; token: string };
    expect(third).toMatchObject({ status: "new", rerun: true });
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

describe("the router with an Idempotency-Key", () => {
  /** A router whose setRegister fails with each of `errors` in turn, then answers; it counts its runs. */
  function router(errors: ErrorCode[]) {
    const runs = { setRegister: 0, move: 0 };
    const handle = contractRouter(
      pick(api, "setRegister", "move"),
      {
        setRegister: async ({ params, body }) => {
          runs.setRegister++;
          const error = errors.shift();
          if (error) throw fail(error, `scripted ${error}`);
          return { key: params.key, value: body.value, version: runs.setRegister };
        },
        move: async ({ params, body, query }) => {
          runs.move++;
          return {
            sessionId: params.sessionId,
            serverId: body.serverId,
            leaseExpiresAt: 0,
            fencingToken: runs.move,
            waitedMs: query.wait === "false" ? 0 : 1,
          };
        },
      },
      { error: () => {} },
      requests(),
    );
    return { handle, runs };
  }
  const event = (routeKey: string, rawPath: string, key: string, body: object, rawQueryString = "") =>
    ({
      routeKey,
      rawPath,
      rawQueryString,
      pathParameters: Object.fromEntries(
        [...routeKey.matchAll(/\{(\w+)\}/g)].map(([, name], i) => [name, rawPath.split("/")[i + 2]]),
      ),
      queryStringParameters: rawQueryString
        ? Object.fromEntries(new URLSearchParams(rawQueryString))
        : undefined,
      headers: { "idempotency-key": key },
      body: JSON.stringify(body),
      isBase64Encoded: false,
      requestContext: { requestId: `r${n++}` },
    }) as unknown as APIGatewayProxyEventV2;
  const set = (key: string) => event("PUT /paxos/{key}", "/paxos/k", key, { value: 1 });

  it("keeps 503 OutcomeUnknown as the key's answer: a retry gets it replayed and runs nothing again", async () => {
    const { handle, runs } = router(["OutcomeUnknown"]);
    const key = `idem-${n++}`;
    const first = await handle(set(key));
    expect(first.statusCode).toBe(503);
    const retry = await handle(set(key));
    expect(retry).toMatchObject({ statusCode: 503, headers: { "idempotent-replayed": "true" } });
    expect(JSON.parse(String(retry.body)).error.code).toBe("OutcomeUnknown");
    expect(runs.setRegister).toBe(1);
  });

  it("gives the key up after a 503 that wrote nothing (NoQuorum, Contention): a retry runs again", async () => {
    const { handle, runs } = router(["NoQuorum", "Contention"]);
    const key = `idem-${n++}`;
    expect((await handle(set(key))).statusCode).toBe(503);
    expect((await handle(set(key))).statusCode).toBe(503);
    expect((await handle(set(key))).statusCode).toBe(200);
    expect(runs.setRegister).toBe(3);
  });

  it("counts the query string as part of the request: another query with the same key answers 422", async () => {
    const { handle, runs } = router([]);
    const key = `idem-${n++}`;
    const move = (wait: string) =>
      handle(event("PUT /sessions/{sessionId}", "/sessions/s1", key, { serverId: "a" }, `wait=${wait}`));
    expect((await move("false")).statusCode).toBe(200);
    const other = await move("true");
    expect(other.statusCode).toBe(422);
    expect(JSON.parse(String(other.body)).error.code).toBe("IdempotencyKeyReused");
    expect((await move("false")).headers).toMatchObject({ "idempotent-replayed": "true" });
    expect(runs.move).toBe(1);
  });
});
