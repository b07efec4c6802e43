/**
 * The outbox transaction, the lastUpdate rule and the claim, on DynamoDB Local, through the classes the
 * replicas and the Replicator use.
 */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import {
  checkTransactionLimits,
  transact as commit,
  MAX_TRANSACTION_ACTIONS,
  TransactionTooLarge,
} from "../../packages/core/src/dynamodb/transactions.ts";
import { Claims, StaleClaim } from "../../packages/core/src/idempotency/claims.ts";
import { outboxRecord } from "../../packages/core/src/outbox/outbox.ts";
import { ChangeCounter } from "../../packages/core/src/replication/change-counter.ts";
import { kvItemKey, ReplicaStore } from "../../packages/core/src/replication/replica-store.ts";
import { encodeVersion } from "../../packages/core/src/version.ts";
import { createPkTable, isolatedDocuments, recordingClient } from "../support/dynamodb.ts";

const documents = isolatedDocuments();
let replicaTable: string;
let outboxTable: string;
let claimTable: string;
let counterTable: string;
let n = 0;
const freshKey = () => `key-${n++}`;
const v = (physical: number, logical = 0) => encodeVersion({ physical, logical });

beforeAll(async () => {
  replicaTable = await createPkTable(documents, "Replica");
  outboxTable = await createPkTable(documents, "Outbox", "id");
  claimTable = await createPkTable(documents, "Claims");
  counterTable = await createPkTable(documents, "Counters");
});

const outboxItems = async () =>
  ((await documents.send(new ScanCommand({ TableName: outboxTable, ConsistentRead: true }))).Items ??
    []) as Array<{
    id: string;
    key: string;
    version: string;
    payload: string;
  }>;

/** The change counter's increment of `key`, as an effect committed with a claim's completion. */
const increment = (key: string, count = 1) => ({
  Update: {
    TableName: counterTable,
    Key: { pk: key },
    UpdateExpression: "ADD changes :count",
    ExpressionAttributeValues: { ":count": count },
  },
});

describe("the outbox transaction", () => {
  it("commits the data item and the outbox record together", async () => {
    const store = new ReplicaStore(documents, replicaTable, outboxTable);
    const key = freshKey();
    const committed = await store.commit(`w-${key}`, key, { a: 1 });
    expect(await store.read(key)).toEqual(committed);
    const record = (await outboxItems()).find((item) => item.key === key)!;
    expect(record).toMatchObject({ id: `w-${key}`, version: committed.version });
    expect(JSON.parse(record.payload)).toEqual({ key, version: committed.version, value: { a: 1 } });
  });

  it("writes nothing at all when one condition fails", async () => {
    const key = freshKey();
    const change = { key, version: v(1), value: "x" };
    await commit(documents, [{ Put: { TableName: outboxTable, Item: outboxRecord("taken", change) } }], "t1");
    const result = await commit(
      documents,
      [
        { Put: { TableName: replicaTable, Item: { ...kvItemKey(key), key, version: v(1), value: '"x"' } } },
        {
          Put: {
            TableName: outboxTable,
            Item: outboxRecord("taken", change),
            ConditionExpression: "attribute_not_exists(id)",
          },
        },
      ],
      "t2",
    );
    expect(result).toMatchObject({ ok: false, failedConditions: [1] });
    const { Item } = await documents.send(
      new GetCommand({ TableName: replicaTable, Key: kvItemKey(key), ConsistentRead: true }),
    );
    expect(Item).toBeUndefined();
  });

  it("applies a retried commit (same client request token) once", async () => {
    const key = freshKey();
    const increment = [
      {
        Update: {
          TableName: counterTable,
          Key: { pk: key },
          UpdateExpression: "ADD changes :one",
          ExpressionAttributeValues: { ":one": 1 },
        },
      },
    ];
    await commit(documents, increment, `token-${key}`);
    await commit(documents, increment, `token-${key}`);
    expect(await new ChangeCounter(documents, counterTable, undefined as never).read(key)).toBe(1);
  });

  it("refuses a transaction over DynamoDB's limits before sending it", async () => {
    const put = (i: number) => ({ Put: { TableName: counterTable, Item: { pk: `limit-${i}` } } });
    const tooMany = Array.from({ length: MAX_TRANSACTION_ACTIONS + 1 }, (_, i) => put(i));
    await expect(commit(documents, tooMany, "too-many")).rejects.toThrow(TransactionTooLarge);
    const { Item } = await documents.send(
      new GetCommand({ TableName: counterTable, Key: { pk: "limit-0" } }),
    );
    expect(Item).toBeUndefined();
    const big = Array.from({ length: 11 }, (_, i) => ({
      Put: { TableName: counterTable, Item: { pk: `big-${i}`, blob: "x".repeat(390 * 1024) } },
    }));
    expect(() => checkTransactionLimits(big)).toThrow(/at most 4194304/);
    expect(() => checkTransactionLimits(big.slice(0, 10))).not.toThrow();
  });

  it("gives concurrent writes to one key distinct, increasing versions and one outbox record each", async () => {
    const key = freshKey();
    // A clock that stands still: versions must still grow (the logical counter).
    const store = new ReplicaStore(documents, replicaTable, outboxTable, () => 1_000);
    const versions = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.commit(`c-${key}-${i}`, key, i).then((c) => c.version)),
    );
    expect(new Set(versions).size).toBe(8);
    expect((await store.read(key))?.version).toBe([...versions].sort().at(-1));
    expect((await outboxItems()).filter((item) => item.key === key)).toHaveLength(8);
  });

  it("commits after a key whose version is ahead of the clock, with the version after it, without a read first", async () => {
    const key = freshKey();
    const ahead = new ReplicaStore(documents, replicaTable, outboxTable, () => 5_000);
    const behind = new ReplicaStore(documents, replicaTable, outboxTable, () => 2_000);
    const first = await ahead.commit(`ahead-${key}`, key, "first");
    let transactions = 0;
    let reads = 0;
    const counting = {
      send: (command: { constructor: { name: string } }) => {
        if (command.constructor.name === "TransactWriteCommand") transactions++;
        if (command.constructor.name === "GetCommand") reads++;
        return documents.send(command as never);
      },
    } as unknown as typeof documents;
    const second = await new ReplicaStore(counting, replicaTable, outboxTable, () => 2_000).commit(
      `behind-${key}`,
      key,
      "second",
    );
    // The clock's version (2000) was refused; the cancellation named 5000, and the next attempt took 5000.1.
    expect(first.version).toBe("000000000005000.000000");
    expect(second.version).toBe("000000000005000.000001");
    expect({ transactions, reads }).toEqual({ transactions: 2, reads: 0 });
    // With the clock ahead again, one transaction.
    transactions = 0;
    const third = await new ReplicaStore(counting, replicaTable, outboxTable, () => 9_000).commit(
      `later-${key}`,
      key,
      "third",
    );
    expect(third.version).toBe("000000000009000.000000");
    expect({ transactions, reads }).toEqual({ transactions: 1, reads: 0 });
    expect(await behind.read(key)).toMatchObject({ version: third.version, value: "third" });
    expect((await outboxItems()).filter((item) => item.key === key)).toHaveLength(3);
  });

  it("answers a repeated write id with its first version and commits nothing new", async () => {
    const key = freshKey();
    const store = new ReplicaStore(documents, replicaTable, outboxTable);
    const first = await store.commit(`same-${key}`, key, "once");
    const again = await store.commit(`same-${key}`, key, "once");
    expect(again.version).toBe(first.version);
    expect((await outboxItems()).filter((item) => item.key === key)).toHaveLength(1);
    expect((await store.read(key))?.version).toBe(first.version);
  });
});

describe("the lastUpdate rule", () => {
  it("applies a newer change, and leaves the replica alone on an equal (duplicate) or older (stale) one", async () => {
    const store = new ReplicaStore(documents, replicaTable);
    const key = freshKey();
    expect(await store.apply({ key, version: v(10), value: "ten" })).toEqual({
      result: "applied",
      version: v(10),
    });
    expect(await store.apply({ key, version: v(10), value: "other" })).toEqual({
      result: "duplicate",
      version: v(10),
    });
    expect(await store.apply({ key, version: v(9, 5), value: "nine" })).toEqual({
      result: "stale",
      version: v(10),
    });
    expect(await store.read(key)).toEqual({ key, version: v(10), value: "ten" });
    expect(await store.apply({ key, version: v(10, 1), value: "later" })).toMatchObject({
      result: "applied",
    });
    expect((await store.read(key))?.value).toBe("later");
  });
});

describe("the claim", () => {
  let clock = 0;
  const claims = (leaseMs = 1000, maxSkewMs = 100) =>
    new Claims(documents, claimTable, { leaseMs, maxSkewMs, now: () => clock });

  it("lets one worker claim, tells the others it is held, and remembers completion", async () => {
    const id = `m-${freshKey()}`;
    const first = await claims().claim(id);
    expect(first.status).toBe("claimed");
    expect(await claims().claim(id)).toMatchObject({ status: "held", expiresAt: clock + 1000 });
    await claims().complete(first as { id: string; token: string });
    expect(await claims().claim(id)).toEqual({ status: "completed", id });
  });

  it("is taken over only after expiry plus the skew bound, and says so (the ClaimTakeovers metric)", async () => {
    const id = `m-${freshKey()}`;
    const takeovers: string[] = [];
    const observed = () =>
      new Claims(documents, claimTable, {
        leaseMs: 1000,
        maxSkewMs: 100,
        now: () => clock,
        onTakeover: (taken) => takeovers.push(taken),
      });
    clock = 10_000;
    await observed().claim(id);
    clock = 11_050; // past the expiry, within the skew bound
    expect((await observed().claim(id)).status).toBe("held");
    expect(takeovers).toEqual([]);
    clock = 11_101;
    expect((await observed().claim(id)).status).toBe("claimed");
    expect(takeovers).toEqual([id]);
  });

  it("rejects a stale owner: it can neither complete (nor its effect apply) nor release the newer claim", async () => {
    const id = `m-${freshKey()}`;
    const counter = freshKey();
    clock = 20_000;
    const stale = (await claims().claim(id)) as { id: string; token: string };
    clock = 22_000;
    const fresh = (await claims().claim(id)) as { id: string; token: string; status: string };
    expect(fresh.status).toBe("claimed");
    const effect = increment(counter);
    await expect(claims().complete(stale, [effect])).rejects.toThrow(StaleClaim);
    await expect(claims().release(stale)).rejects.toThrow(StaleClaim);
    const { Item } = await documents.send(new GetCommand({ TableName: counterTable, Key: { pk: counter } }));
    expect(Item).toBeUndefined();
    // The newer owner's claim is intact and completes with its effect.
    await claims().complete(fresh, [effect]);
    expect(
      (await documents.send(new GetCommand({ TableName: counterTable, Key: { pk: counter } }))).Item,
    ).toEqual({ pk: counter, changes: 1 });
    // The owner's own retry of its completion is answered as done, and applies the effect once.
    await claims().complete(fresh, [effect]);
    expect(
      (await documents.send(new GetCommand({ TableName: counterTable, Key: { pk: counter } }))).Item,
    ).toEqual({ pk: counter, changes: 1 });
  });

  it("answers an owner's retry of its completion as done on a running clock, and applies its effect once", async () => {
    const running = new Claims(documents, claimTable, { leaseMs: 30_000 });
    const counter = freshKey();
    const effect = increment(counter);
    const claim = (await running.claim(`m-${freshKey()}`)) as { id: string; token: string };
    await running.complete(claim, [effect]);
    // The first answer was lost: the owner sends the same completion again, a little later.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await running.complete(claim, [effect]);
    expect(
      (await documents.send(new GetCommand({ TableName: counterTable, Key: { pk: counter } }))).Item,
    ).toEqual({ pk: counter, changes: 1 });
  });

  it("released by its owner, it can be claimed again at once", async () => {
    const id = `m-${freshKey()}`;
    const claim = (await claims().claim(id)) as { id: string; token: string };
    await claims().release(claim);
    expect((await claims().claim(id)).status).toBe("claimed");
  });

  it("counts a change once however often it is delivered", async () => {
    const counter = new ChangeCounter(documents, counterTable, claims(30_000));
    const key = freshKey();
    const change = { key, version: v(5), value: 1 };
    const results = await Promise.all(Array.from({ length: 5 }, () => counter.count(change)));
    expect(results.filter((result) => result === "counted")).toHaveLength(1);
    expect(await counter.count(change)).toBe("duplicate");
    expect(await counter.count({ ...change, version: v(6) })).toBe("counted");
    expect(await counter.read(key)).toBe(2);
  });
});

describe("a batch's claims and counts", () => {
  let clock = 100_000;
  /** Claims on a client that records the name of every request it sends. */
  const counted = (leaseMs = 1000) => {
    const { client, sent } = recordingClient(documents);
    return { sent, claims: new Claims(client, claimTable, { leaseMs, maxSkewMs: 100, now: () => clock }) };
  };
  const changesOf = async (key: string) =>
    (
      await documents.send(
        new GetCommand({ TableName: counterTable, Key: { pk: key }, ConsistentRead: true }),
      )
    ).Item?.changes;

  it("claims each id with a conditional write of its own, all at once; one done before or held says so", async () => {
    const [done, held, a, b] = [0, 1, 2, 3].map(() => `batch-${freshKey()}`);
    const other = counted().claims;
    await other.complete((await other.claim(done!)) as { id: string; token: string });
    await other.claim(held!);
    const { sent, claims } = counted();
    const results = await claims.claimAll([done!, held!, a!, b!]);
    expect(results.map((result) => result.status)).toEqual(["completed", "held", "claimed", "claimed"]);
    // No transaction: a transactional write costs twice the units of a plain one.
    expect(sent).toEqual(["PutCommand", "PutCommand", "PutCommand", "PutCommand"]);
    // The fresh claims are real: nobody else gets them.
    expect((await other.claim(a!)).status).toBe("held");
  });

  it("counts a batch in one transaction after a claim per change, each change once, however often the batch comes again", async () => {
    const { sent, claims } = counted(30_000);
    const counter = new ChangeCounter(documents, counterTable, claims);
    const [k1, k2] = [freshKey(), freshKey()];
    const batch = [
      { key: k1, version: v(1), value: 1 },
      { key: k1, version: v(2), value: 2 },
      { key: k2, version: v(1), value: 1 },
      { key: k1, version: v(1), value: 1 },
    ];
    expect(await counter.countAll(batch)).toEqual(["counted", "counted", "counted", "duplicate"]);
    // Three distinct changes (the fourth repeats the first): three claims, then one transaction of their
    // completions and the counters' increments.
    expect(sent).toEqual(["PutCommand", "PutCommand", "PutCommand", "TransactWriteCommand"]);
    expect([await changesOf(k1), await changesOf(k2)]).toEqual([2, 1]);
    expect(await counter.countAll(batch)).toEqual(["duplicate", "duplicate", "duplicate", "duplicate"]);
    expect(await counter.countAll([...batch, { key: k2, version: v(2), value: 2 }])).toEqual([
      "duplicate",
      "duplicate",
      "duplicate",
      "duplicate",
      "counted",
    ]);
    expect([await changesOf(k1), await changesOf(k2)]).toEqual([2, 2]);
  });

  it("completes without a claim that went stale, and without its effect; the rest commit", async () => {
    const [a, b] = [`stale-${freshKey()}`, `stale-${freshKey()}`];
    const key = freshKey();
    clock = 200_000;
    const mine = (await counted().claims.claimAll([a, b])) as Array<{ id: string; token: string }>;
    // Past b's expiry and the skew bound, another worker takes b over.
    clock += 2_000;
    const taker = counted().claims;
    const taken = await taker.claim(b);
    expect(taken.status).toBe("claimed");
    const { stale } = await counted().claims.completeAll(mine, (live) => [increment(key, live.length)]);
    expect(stale).toEqual([b]);
    expect(await changesOf(key)).toBe(1);
    // a is done; b is still the taker's to complete, and its completion counts it.
    expect((await taker.claim(a)).status).toBe("completed");
    await taker.completeAll([taken as { id: string; token: string }], (live) => [
      increment(key, live.length),
    ]);
    expect(await changesOf(key)).toBe(2);
  });

  it("counts a batch without a change whose claim was taken over before the completion, nor its increment", async () => {
    const key = freshKey();
    clock = 300_000;
    const [first, second] = [
      { key, version: v(1), value: 1 },
      { key, version: v(2), value: 2 },
    ];
    let transactions = 0;
    let taken: { id: string; token: string } | undefined;
    // Between the batch's claim and its completion, the worker stalls past the claims' expiry, and
    // another worker takes the second change's claim over.
    const stalling = {
      send: async (command: { constructor: { name: string } }) => {
        // The completion is the batch's one transaction (each claim is a write of its own).
        if (command.constructor.name === "TransactWriteCommand" && ++transactions === 1) {
          clock += 2_000;
          taken = (await counted().claims.claim(`change-counter#${key}@${v(2)}`)) as typeof taken;
        }
        return documents.send(command as never);
      },
    } as unknown as typeof documents;
    const counter = new ChangeCounter(
      documents,
      counterTable,
      new Claims(stalling, claimTable, { leaseMs: 1000, maxSkewMs: 100, now: () => clock }),
    );
    expect(await counter.countAll([first, second])).toEqual(["counted", "busy"]);
    expect(await changesOf(key)).toBe(1);
    // The taker counts it.
    await counted().claims.completeAll([taken!], () => [increment(key)]);
    expect(await changesOf(key)).toBe(2);
  });

  it("completes a batch through a TransactionConflict, once", async () => {
    const key = freshKey();
    const claims = new Claims(conflictOnce(documents), claimTable, { leaseMs: 30_000 });
    const batch = (await claims.claimAll([`c-${freshKey()}`, `c-${freshKey()}`])) as Array<{
      id: string;
      token: string;
    }>;
    expect(batch.map((claim) => (claim as { status?: string }).status)).toEqual(["claimed", "claimed"]);
    await claims.completeAll(batch, (live) => [increment(key, live.length)]);
    expect(await changesOf(key)).toBe(2);
    // The owner's retry of the same completion applies nothing again.
    await claims.completeAll(batch, (live) => [increment(key, live.length)]);
    expect(await changesOf(key)).toBe(2);
  });
});

/** DynamoDB Local behind a fault: the first TransactWriteItems is cancelled by a conflicting transaction. */
function conflictOnce(target: typeof documents) {
  let conflicted = false;
  return {
    send: async (command: { constructor: { name: string } }) => {
      if (!conflicted && command.constructor.name === "TransactWriteCommand") {
        conflicted = true;
        throw new TransactionCanceledException({
          message: "Transaction cancelled [TransactionConflict]",
          $metadata: {},
          CancellationReasons: [{ Code: "TransactionConflict" }, { Code: "None" }],
        });
      }
      return target.send(command as never);
    },
  } as unknown as typeof documents;
}

/** DynamoDB Local behind the SDK's retry of a write whose answer was lost: every request is sent twice. */
function answerLost(target: typeof documents) {
  return {
    send: async (command: never) => {
      await target.send(command).catch(() => {});
      return target.send(command);
    },
  } as unknown as typeof documents;
}

describe("transaction conflicts and the SDK's own retries", () => {
  it("the primary commits through a TransactionConflict instead of failing the write", async () => {
    const store = new ReplicaStore(conflictOnce(documents), replicaTable, outboxTable);
    const key = freshKey();
    const committed = await store.commit(`w-${key}`, key, "through a conflict");
    expect(await new ReplicaStore(documents, replicaTable).read(key)).toEqual(committed);
  });

  it("a claim completes through a TransactionConflict instead of staying IN_PROGRESS", async () => {
    const id = `conflict-${n++}`;
    const claims = new Claims(conflictOnce(documents), claimTable, { leaseMs: 30_000 });
    const claim = await claims.claim(id);
    expect(claim.status).toBe("claimed");
    await claims.complete(claim as { id: string; token: string });
    expect((await new Claims(documents, claimTable, { leaseMs: 30_000 }).claim(id)).status).toBe("completed");
  });

  it("a claim whose first attempt landed but whose answer was lost is ours, not someone else's", async () => {
    const claims = new Claims(answerLost(documents), claimTable, { leaseMs: 30_000 });
    const claim = await claims.claim(`retried-${n++}`);
    expect(claim.status).toBe("claimed");
    await claims.complete(claim as { id: string; token: string });
  });

  it("a batch counted through transactions whose answers were lost counts each change once", async () => {
    const key = freshKey();
    const counter = new ChangeCounter(
      answerLost(documents),
      counterTable,
      new Claims(answerLost(documents), claimTable, { leaseMs: 30_000 }),
    );
    const batch = [1, 2, 3].map((physical) => ({ key, version: v(physical), value: physical }));
    expect(await counter.countAll(batch)).toEqual(["counted", "counted", "counted"]);
    expect(await counter.read(key)).toBe(3);
  });
});
