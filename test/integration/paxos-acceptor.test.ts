/** Every acceptor rule, on DynamoDB Local, through the same class the replica Lambda uses. */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type AcceptorRequest, MemoryAcceptor } from "../../packages/core/src/paxos/acceptor.ts";
import { encodeBallot } from "../../packages/core/src/paxos/ballot.ts";
import { DynamoDBAcceptor, paxosItemKey } from "../../packages/core/src/paxos/dynamodb-acceptor.ts";
import { createPkTable, isolatedDocuments } from "../support/dynamodb.ts";

const documents = isolatedDocuments();
let acceptor: DynamoDBAcceptor;
let table: string;
const b = (counter: number, proposerId = "p") => encodeBallot({ counter, proposerId });
const state = (version: number, value: unknown) => ({ version, value, origin: `o${version}` });
let n = 0;
const freshKey = () => `key-${n++}`;

beforeAll(async () => {
  table = await createPkTable(documents, "Replica");
  acceptor = new DynamoDBAcceptor(documents, table);
});

describe("prepare", () => {
  it("promises a first ballot and reports nothing accepted", async () => {
    expect(await acceptor.prepare({ op: "prepare", key: freshKey(), ballot: b(1) })).toEqual({ ok: true });
  });

  it("rejects a ballot not above its promise, answering the conflicting ballot", async () => {
    const key = freshKey();
    await acceptor.prepare({ op: "prepare", key, ballot: b(5) });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(5) })).toEqual({
      ok: false,
      conflict: b(5),
      acceptedBallot: "",
    });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(4, "z") })).toEqual({
      ok: false,
      conflict: b(5),
      acceptedBallot: "",
    });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(5, "q") })).toEqual({ ok: true });
  });

  it("answers the highest accepted ballot and state (the viral property)", async () => {
    const key = freshKey();
    await acceptor.prepare({ op: "prepare", key, ballot: b(1) });
    await acceptor.accept({ op: "accept", key, ballot: b(1), state: state(1, { a: [1, "x"] }) });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(2, "other") })).toEqual({
      ok: true,
      accepted: { ballot: b(1), state: state(1, { a: [1, "x"] }) },
    });
  });

  it("rejects a ballot below one it accepted", async () => {
    const key = freshKey();
    await acceptor.accept({ op: "accept", key, ballot: b(7), state: state(1, "v") });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(6) })).toEqual({
      ok: false,
      conflict: b(7),
      acceptedBallot: b(7),
    });
  });
});

describe("accept", () => {
  it("accepts at the promised ballot (equal is fine) and stores the state", async () => {
    const key = freshKey();
    await acceptor.prepare({ op: "prepare", key, ballot: b(3) });
    expect(await acceptor.accept({ op: "accept", key, ballot: b(3), state: state(1, "v") })).toEqual({
      ok: true,
    });
    const item = (await documents.send(new GetCommand({ TableName: table, Key: paxosItemKey(key) }))).Item;
    expect(item).toMatchObject({ promised: b(3), acceptedBallot: b(3) });
    expect(JSON.parse(item?.acceptedState)).toEqual(state(1, "v"));
  });

  it("rejects a ballot below its promise, answering the conflicting ballot, and changes nothing", async () => {
    const key = freshKey();
    await acceptor.prepare({ op: "prepare", key, ballot: b(9) });
    expect(await acceptor.accept({ op: "accept", key, ballot: b(8), state: state(1, "old") })).toEqual({
      ok: false,
      conflict: b(9),
      acceptedBallot: "",
    });
    const item = (await documents.send(new GetCommand({ TableName: table, Key: paxosItemKey(key) }))).Item;
    expect(item).toEqual({ ...paxosItemKey(key), promised: b(9) });
  });

  it("rejects a ballot below one already accepted", async () => {
    const key = freshKey();
    await acceptor.accept({ op: "accept", key, ballot: b(4), state: state(1, "new") });
    expect(await acceptor.accept({ op: "accept", key, ballot: b(3), state: state(1, "old") })).toEqual({
      ok: false,
      conflict: b(4),
      acceptedBallot: b(4),
    });
  });

  it("records the promise of the proposer's next ballot (one round trip next time)", async () => {
    const key = freshKey();
    await acceptor.accept({ op: "accept", key, ballot: b(1), state: state(1, "a"), promise: b(2) });
    // Another proposer's ballot between the two is refused; the promised one is accepted directly.
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(1, "z") })).toEqual({
      ok: false,
      conflict: b(2),
      acceptedBallot: b(1),
    });
    expect(
      await acceptor.accept({ op: "accept", key, ballot: b(2), state: state(2, "b"), promise: b(3) }),
    ).toEqual({
      ok: true,
    });
  });
});

describe("accept with a fallback (a prepare in the same message)", () => {
  it("after another proposer's finished write: promises the ballot above it and answers what it accepted", async () => {
    const key = freshKey();
    await acceptor.accept({ op: "accept", key, ballot: b(4, "b"), state: state(3, "b"), promise: b(5, "b") });
    expect(
      await acceptor.accept({ op: "accept", key, ballot: b(2, "a"), state: state(2, "a"), fallback: true }),
    ).toEqual({
      ok: false,
      conflict: b(5, "b"),
      acceptedBallot: b(4, "b"),
      fallback: { ballot: b(6, "a"), accepted: { ballot: b(4, "b"), state: state(3, "b") } },
    });
    const item = (await documents.send(new GetCommand({ TableName: table, Key: paxosItemKey(key) }))).Item;
    expect(item).toMatchObject({ promised: b(6, "a"), acceptedBallot: b(4, "b") });
    // b's next one-round write is now refused; a's phase 2 at the fallback ballot is accepted.
    expect(
      await acceptor.accept({ op: "accept", key, ballot: b(5, "b"), state: state(4, "b") }),
    ).toMatchObject({
      ok: false,
    });
    expect(await acceptor.accept({ op: "accept", key, ballot: b(6, "a"), state: state(4, "a") })).toEqual({
      ok: true,
    });
  });

  it("promises nothing over a prepare under way, and changes nothing", async () => {
    const key = freshKey();
    await acceptor.accept({ op: "accept", key, ballot: b(4, "b"), state: state(3, "b"), promise: b(5, "b") });
    await acceptor.prepare({ op: "prepare", key, ballot: b(9, "c") });
    expect(
      await acceptor.accept({ op: "accept", key, ballot: b(2, "a"), state: state(2, "a"), fallback: true }),
    ).toEqual({ ok: false, conflict: b(9, "c"), acceptedBallot: b(4, "b") });
    const item = (await documents.send(new GetCommand({ TableName: table, Key: paxosItemKey(key) }))).Item;
    expect(item).toMatchObject({ promised: b(9, "c"), acceptedBallot: b(4, "b") });
  });

  it("answers and stores exactly what the in-memory rules do, over random sequences of requests", async () => {
    const ballotArb = fc
      .tuple(fc.integer({ min: 1, max: 8 }), fc.constantFrom("a", "b", "c"))
      .map(([counter, proposerId]) => b(counter, proposerId));
    const requestArb = fc.oneof(
      ballotArb.map((ballot) => ({ op: "prepare" as const, ballot })),
      fc
        .record({ ballot: ballotArb, promise: fc.boolean(), fallback: fc.boolean(), value: fc.nat(9) })
        .map(({ ballot, promise, fallback, value }) => ({
          op: "accept" as const,
          ballot,
          state: state(value + 1, `v${value}`),
          ...(promise ? { promise: b(Number(ballot.slice(0, 15)) + 1, ballot.slice(16)) } : {}),
          ...(fallback ? { fallback: true as const } : {}),
        })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(requestArb, { minLength: 1, maxLength: 10 }), async (requests) => {
        const key = freshKey();
        const memory = new MemoryAcceptor();
        for (const request of requests) {
          const message = { ...request, key } as AcceptorRequest;
          const [real, model] =
            message.op === "prepare"
              ? [await acceptor.prepare(message), await memory.prepare(message)]
              : [await acceptor.accept(message), await memory.accept(message)];
          expect(real).toEqual(model);
        }
        const item = (await documents.send(new GetCommand({ TableName: table, Key: paxosItemKey(key) })))
          .Item;
        const record = memory.records.get(key);
        expect(item?.promised ?? "").toBe(record?.promised ?? "");
        expect(item?.acceptedBallot).toBe(record?.accepted?.ballot);
      }),
      { numRuns: 60, seed: 20261126 },
    );
  }, 60_000);
});

describe("an accept the SDK retried after its first attempt landed", () => {
  /**
   * A document client that sends an UpdateItem twice, as the SDK does when the first attempt's answer is
   * lost, running `between` in the gap; the retry's answer (or error) carries `attempts: 2`, as the
   * SDK's does.
   */
  const retrying = (between: () => Promise<unknown>) =>
    ({
      send: async (command: Parameters<typeof documents.send>[0]) => {
        if (command.constructor.name !== "UpdateCommand") return documents.send(command);
        await documents.send(command).catch(() => {});
        await between();
        try {
          const output = await documents.send(command);
          return { ...output, $metadata: { ...output.$metadata, attempts: 2 } };
        } catch (error) {
          Object.assign(error as object, { $metadata: { attempts: 2 } });
          throw error;
        }
      },
    }) as unknown as typeof documents;

  it("fails (the proposer counts the replica as one that may have accepted) when a later round went over it", async () => {
    const key = freshKey();
    const later = new DynamoDBAcceptor(documents, table);
    const flaky = new DynamoDBAcceptor(
      retrying(async () => {
        await later.prepare({ op: "prepare", key, ballot: b(9, "q") });
        await later.accept({ op: "accept", key, ballot: b(9, "q"), state: state(2, "theirs") });
      }),
      table,
    );
    await expect(flaky.accept({ op: "accept", key, ballot: b(1), state: state(1, "mine") })).rejects.toThrow(
      /may have landed/,
    );
  });

  it("answers what it found when nothing came between: our own ballot, accepted", async () => {
    const key = freshKey();
    const flaky = new DynamoDBAcceptor(
      retrying(async () => {}),
      table,
    );
    const reply = await flaky.accept({
      op: "accept",
      key,
      ballot: b(1),
      state: state(1, "mine"),
      promise: b(2),
    });
    expect(reply).toMatchObject({ ok: false, acceptedBallot: b(1) });
  });
});
