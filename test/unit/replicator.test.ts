/**
 * The Replicator's own rules, with fakes for its ports: the retry-delay schedule, which messages it fails
 * and how long each waits, and the lastUpdate rule of the replica store on the DynamoDB model (which
 * test/integration/dynamodb-model.test.ts checks against DynamoDB Local).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import type { ApplyBatchRequest, ReplicaInvoker } from "../../packages/core/src/contracts/replica.ts";
import { replicaHandler } from "../../packages/core/src/replication/replica-handler.ts";
import { ReplicaStore } from "../../packages/core/src/replication/replica-store.ts";
import { retryDelaySeconds } from "../../packages/core/src/replication/replicator.ts";
import { replicatorHandler } from "../../packages/core/src/replication/replicator-handler.ts";
import { DynamoDBModel } from "../simulation/dynamodb-model.ts";

const record = (messageId: string, key: string, version: string, receiveCount: number) =>
  ({
    messageId,
    receiptHandle: `handle-${messageId}`,
    body: JSON.stringify({ key, version, value: messageId }),
    attributes: { MessageGroupId: key, ApproximateReceiveCount: String(receiveCount) },
  }) as unknown as SQSRecord;

const v = (n: number) => `${String(1_700_000_000_000 + n).padStart(15, "0")}.000000`;

describe("the Replicator", () => {
  it("waits 1 s after the first failed receive, doubling per receive, at most 30 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(retryDelaySeconds)).toEqual([1, 2, 4, 8, 16, 30, 30, 30]);
    expect(retryDelaySeconds(0)).toBe(1);
  });

  it("fails a change a replica did not apply and the later changes of its key, each with its key's delay; counts only what every replica applied", async () => {
    const applied: string[] = [];
    const invocations: string[] = [];
    const replicas: ReplicaInvoker = {
      replicaIds: ["Replica1", "Replica2", "Replica3"],
      invoke: (async (id: string, request: ApplyBatchRequest) => {
        invocations.push(`${id} ${request.op}`);
        let failed = false;
        return {
          results: request.changes.map((change) => {
            // Replica3 cannot write key a: a's first change fails, and its later one is not tried.
            if (id === "Replica3" && change.key === "a") {
              const error = failed ? "skipped" : "throttled";
              failed = true;
              return { error };
            }
            applied.push(`${id} ${change.key}@${change.version}`);
            return { result: "applied", version: change.version };
          }),
        };
      }) as ReplicaInvoker["invoke"],
    };
    const counted: string[] = [];
    const visibility: Array<{ ReceiptHandle: string; VisibilityTimeout: number }> = [];
    const handler = replicatorHandler({
      replicas,
      counter: {
        countAll: async (changes) => {
          counted.push(...changes.map((change) => `${change.key}@${change.version}`));
          return changes.map(() => "counted" as const);
        },
      },
      sqs: {
        send: (async (command: { input: { Entries: typeof visibility } }) => {
          visibility.push(...command.input.Entries);
          return {};
        }) as never,
      },
      queueUrl: "queue",
      logger: new Logger({ logLevel: "SILENT" }),
    });
    const event: SQSEvent = {
      Records: [record("a1", "a", v(1), 3), record("b1", "b", v(1), 1), record("a2", "a", v(2), 1)],
    };
    const response = await handler(event);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "a1" }, { itemIdentifier: "a2" }]);
    // Both of a's messages come back after the delay of the failed one's receive count (3 → 4 s).
    expect(visibility).toEqual([
      { Id: "0", ReceiptHandle: "handle-a1", VisibilityTimeout: 4 },
      { Id: "1", ReceiptHandle: "handle-a2", VisibilityTimeout: 4 },
    ]);
    expect(counted).toEqual([`b@${v(1)}`]);
    // One invocation per follower for the whole batch; none to the primary, which committed every change.
    expect(invocations).toEqual(["Replica2 applyBatch", "Replica3 applyBatch"]);
    // a2 was not written where a1 failed: a's order holds on Replica3 (Replica2 holds it; its redelivery
    // there is a duplicate).
    expect(applied.filter((call) => call.includes(v(2)))).toEqual([`Replica2 a@${v(2)}`]);
  });

  it("counts no change behind a failed message of its group: the key's effects stay in its order", async () => {
    const counted: string[] = [];
    const handler = replicatorHandler({
      replicas: {
        replicaIds: ["Replica1", "Replica2", "Replica3"],
        invoke: (async (_id: string, request: ApplyBatchRequest) => ({
          results: request.changes.map((change) => ({ result: "applied", version: change.version })),
        })) as ReplicaInvoker["invoke"],
      },
      counter: {
        countAll: async (changes) => {
          counted.push(...changes.map((change) => `${change.key}@${change.version}`));
          return changes.map(() => "counted" as const);
        },
      },
      sqs: { send: (async () => ({})) as never },
      queueUrl: "queue",
      logger: new Logger({ logLevel: "SILENT" }),
    });
    // a's first message is not a change (it fails on every delivery); a's second applies everywhere.
    const poison = { ...record("a1", "a", v(1), 1), body: "not a change" } as SQSRecord;
    const response = await handler({
      Records: [poison, record("a2", "a", v(2), 1), record("b1", "b", v(1), 1)],
    });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "a1" }, { itemIdentifier: "a2" }]);
    expect(counted).toEqual([`b@${v(1)}`]);
  });

  it("measures each stage of a change: queue to Replicator (first delivery only), apply, count, and the whole lag", async () => {
    let time = 1_700_000_000_500;
    const tick = (ms: number) => {
      time += ms;
    };
    const emitted: Array<[string, number]> = [];
    const handler = replicatorHandler({
      replicas: {
        replicaIds: ["Replica1", "Replica2", "Replica3"],
        invoke: (async (_id: string, request: ApplyBatchRequest) => {
          tick(10);
          return {
            results: request.changes.map((change) => ({ result: "applied", version: change.version })),
          };
        }) as ReplicaInvoker["invoke"],
      },
      counter: {
        countAll: async (changes) => {
          tick(7);
          return changes.map(() => "counted" as const);
        },
      },
      sqs: { send: (async () => ({})) as never },
      queueUrl: "queue",
      logger: new Logger({ logLevel: "SILENT" }),
      metrics: {
        addMetric: (name: string, _unit: unknown, value: number) => void emitted.push([name, value]),
        publishStoredMetrics: () => {},
      } as never,
      now: () => time,
    });
    const first = record("m1", "a", v(100), 1);
    first.attributes.SentTimestamp = String(time - 250);
    const again = record("m2", "a", v(101), 2);
    again.attributes.SentTimestamp = String(time - 250);
    await handler({ Records: [first, again] });
    const stage = (name: string) => emitted.filter(([metric]) => metric === name).map(([, value]) => value);
    // Sent 250 ms before the Replicator got it; a redelivery (m2) says nothing about the queue.
    expect(stage("StageQueueToReplicator")).toEqual([250]);
    // Per change, the batch's apply: one invocation per follower (two), 10 ms of this clock each; then the
    // batch's counting (one call, 7 ms).
    expect(stage("StageApply")).toEqual([20, 20]);
    expect(stage("StageCount")).toEqual([7, 7]);
    // From each commit (v(100), v(101)) to the batch applied on every replica.
    expect(stage("ReplicationLag")).toEqual([420, 419]);
  });

  it("applies a batch on a replica in one invocation: keys side by side, each key in order, a failed write holding back its key's later changes only", async () => {
    const written: string[] = [];
    const store = {
      apply: async (change: { key: string; version: string }) => {
        if (change.key === "bad" && change.version === v(1)) throw new Error("throttled");
        written.push(`${change.key}@${change.version}`);
        return { result: "applied" as const, version: change.version };
      },
    };
    const handle = replicaHandler({} as never, store as never);
    const reply = (await handle({
      op: "applyBatch",
      changes: [
        { key: "a", version: v(1), value: 1 },
        { key: "bad", version: v(1), value: 1 },
        { key: "a", version: v(2), value: 2 },
        { key: "bad", version: v(2), value: 2 },
        { key: "b", version: v(1), value: 1 },
      ],
    })) as { results: Array<{ result?: string; error?: string }> };
    expect(reply.results.map((result) => result.result ?? result.error)).toEqual([
      "applied",
      "throttled",
      "applied",
      "skipped: an earlier change of its key failed (throttled)",
      "applied",
    ]);
    expect(written.filter((entry) => entry.startsWith("a@"))).toEqual([`a@${v(1)}`, `a@${v(2)}`]);
    expect(written.some((entry) => entry.startsWith("bad@"))).toBe(false);
  });

  it("fails a message that is not a change, alone: the batch's changes are applied and counted", async () => {
    const counted: string[] = [];
    const handler = replicatorHandler({
      replicas: {
        replicaIds: ["Replica1"],
        invoke: (async (_id: string, request: ApplyBatchRequest) => ({
          results: request.changes.map((change) => ({ result: "applied", version: change.version })),
        })) as ReplicaInvoker["invoke"],
      },
      counter: {
        countAll: async (changes) => {
          counted.push(...changes.map((change) => `${change.key}@${change.version}`));
          return changes.map(() => "counted" as const);
        },
      },
      sqs: { send: (async () => ({})) as never },
      queueUrl: "queue",
      logger: new Logger({ logLevel: "SILENT" }),
    });
    const poison = { ...record("p1", "p", v(1), 1), body: "not json" } as SQSRecord;
    const response = await handler({ Records: [poison, record("b1", "b", v(1), 1)] });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "p1" }]);
    expect(counted).toEqual([`b@${v(1)}`]);
  });

  it("applies a change only over an older version: a repeat is a duplicate, an older one stale, neither written", async () => {
    let time = 1_700_000_000_000;
    const model = new DynamoDBModel([{ name: "Replica", hashKey: "pk" }], { now: () => time });
    const store = new ReplicaStore(
      model as unknown as DynamoDBDocumentClient,
      "Replica",
      undefined,
      () => time,
    );
    expect(await store.apply({ key: "k", version: v(2), value: "two" })).toEqual({
      result: "applied",
      version: v(2),
    });
    time += 1;
    expect(await store.apply({ key: "k", version: v(1), value: "one" })).toEqual({
      result: "stale",
      version: v(2),
    });
    expect(await store.apply({ key: "k", version: v(2), value: "two" })).toEqual({
      result: "duplicate",
      version: v(2),
    });
    expect(await store.read("k")).toEqual({ key: "k", version: v(2), value: "two" });
    expect(await store.apply({ key: "k", version: v(3), value: "three" })).toEqual({
      result: "applied",
      version: v(3),
    });
    expect(await store.read("k")).toEqual({ key: "k", version: v(3), value: "three" });
  });
});
