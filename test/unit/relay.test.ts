/**
 * The Relay and the failed-batch replay against fakes of SQS and DynamoDB Streams that behave as AWS
 * documents (sender faults, partial batch failures, empty stream pages, a trimmed stream), and the
 * DynamoDB model for the outbox table.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { TrimmedDataAccessException } from "@aws-sdk/client-dynamodb-streams";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { describe, expect, it } from "vitest";
import { readStreamRange, replayFailedBatches } from "../../packages/core/src/outbox/failed-batches.ts";
import { OUTBOX_RETENTION_SECONDS, outboxRecord } from "../../packages/core/src/outbox/outbox.ts";
import { type RelayRecord, relay } from "../../packages/core/src/outbox/relay.ts";
import { relayHandler } from "../../packages/core/src/outbox/relay-handler.ts";
import { DynamoDBModel } from "../simulation/dynamodb-model.ts";
import { MAX_BODY_BYTES, SqsModel } from "../simulation/sqs-model.ts";

const version = (n: number) => `00000170000000${n}.000000`;
const record = (n: number, key = `k${n}`): RelayRecord => ({
  sequenceNumber: String(1000 + n),
  image: marshall(outboxRecord(`id-${n}`, { key, version: version(n), value: n }, 0)) as Record<
    string,
    AttributeValue
  >,
});

interface Sent {
  body: string;
  group: string;
  dedup: string;
}

/** A FIFO queue that answers SendMessageBatch per entry: `fault(entry)` says how an entry fails. */
function fakeSqs(
  fault: (body: string) => { Code: string; SenderFault: boolean } | undefined = () => undefined,
) {
  const sent: Sent[] = [];
  const failureQueue: Array<{ Body: string; ReceiptHandle: string }> = [];
  const deleted: string[] = [];
  const received = new Set<string>();
  const sqs = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name;
      if (name === "SendMessageBatchCommand") {
        const entries = command.input.Entries as Array<{
          Id: string;
          MessageBody: string;
          MessageGroupId: string;
          MessageDeduplicationId: string;
        }>;
        const Failed = [];
        for (const entry of entries) {
          const failure = fault(entry.MessageBody);
          if (failure) Failed.push({ Id: entry.Id, ...failure });
          else
            sent.push({
              body: entry.MessageBody,
              group: entry.MessageGroupId,
              dedup: entry.MessageDeduplicationId,
            });
        }
        return { Successful: [], Failed };
      }
      if (name === "ReceiveMessageCommand") {
        // A received message stays invisible for its visibility timeout: longer than this test.
        const visible = failureQueue.filter((m) => !received.has(m.ReceiptHandle));
        for (const m of visible) received.add(m.ReceiptHandle);
        return { Messages: visible };
      }
      if (name === "DeleteMessageCommand") {
        deleted.push(String(command.input.ReceiptHandle));
        return {};
      }
      throw new Error(`unexpected ${name}`);
    },
  } as unknown as SQSClient;
  return { sqs, sent, failureQueue, deleted };
}

const values = (sent: Sent[]) => sent.map((message) => JSON.parse(message.body).value);

describe("relay", () => {
  it("measures, as the Relay function, each record's time from commit to the Relay, and its send", async () => {
    const fake = fakeSqs();
    let time = 1_700_000_000_000 + 300;
    const emitted: Array<[string, number]> = [];
    const handler = relayHandler({
      sqs: fake.sqs,
      queueUrl: "q",
      quarantine: { put: async () => {} } as never,
      logger: new Logger({ logLevel: "SILENT" }),
      metrics: {
        addMetric: (name: string, _unit: unknown, value: number) => void emitted.push([name, value]),
        publishStoredMetrics: () => {},
      } as never,
      now: () => {
        time += 5;
        return time;
      },
    });
    const commit = (n: number) => `${String(1_700_000_000_000 + n).padStart(15, "0")}.000000`;
    const insert = (n: number) => ({
      eventName: "INSERT",
      dynamodb: {
        SequenceNumber: String(n),
        NewImage: marshall(outboxRecord(`id-${n}`, { key: `k${n}`, version: commit(n), value: n }, 0)),
      },
    });
    await handler({ Records: [insert(100), insert(200)] } as never);
    const stage = (name: string) => emitted.filter(([metric]) => metric === name).map(([, value]) => value);
    // Invoked at 305 (this clock's first reading): committed at 100 and 200.
    expect(stage("StageStreamToRelay")).toEqual([205, 105]);
    expect(stage("StageRelaySend")).toEqual([5]);
    expect(fake.sent).toHaveLength(2);
  });

  it("sends a record whose key is longer than a message group id may be", async () => {
    const fake = fakeSqs();
    const long = "k".repeat(200);
    const quarantined: string[] = [];
    const outcome = await relay([record(1, long)], {
      sqs: fake.sqs,
      queueUrl: "q",
      quarantine: async (r) => void quarantined.push(r.sequenceNumber),
    });
    expect(outcome).toMatchObject({ sent: 1, quarantined: 0 });
    expect(fake.sent[0]!.group.length).toBeLessThanOrEqual(128);
    expect(JSON.parse(fake.sent[0]!.body).key).toBe(long);
  });

  it("keeps each batch within SQS's 1 MiB, and quarantines a record too large for any message (the SQS model)", async () => {
    const url = "https://sqs.us-east-1.amazonaws.com/000000000000/changes.fifo";
    const sqs = new SqsModel([{ url, fifo: true, visibilityTimeoutSeconds: 60 }], {
      now: () => 0,
      random: () => 0.5,
    });
    const large = (n: number, bytes: number): RelayRecord => ({
      sequenceNumber: String(1000 + n),
      image: marshall(
        outboxRecord(`id-${n}`, { key: `k${n % 3}`, version: version(n), value: "x".repeat(bytes) }, 0),
      ) as Record<string, AttributeValue>,
    });
    // Ten records of 300 KiB, ten batches' worth by count but three times SQS's batch limit by size,
    // and one that no message could hold.
    const records = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => large(n, 300 * 1024));
    records.splice(4, 0, large(99, MAX_BODY_BYTES));
    const quarantined: string[] = [];
    const outcome = await relay(records, {
      sqs: sqs as unknown as SQSClient,
      queueUrl: url,
      quarantine: async (r) => void quarantined.push(r.sequenceNumber),
    });
    expect(outcome).toMatchObject({ sent: 10, quarantined: 1, failed: [] });
    expect(quarantined).toEqual(["1099"]);
    expect(sqs.depth(url)).toBe(10);
  });

  it("quarantines what SQS rejects as the sender's fault and sends the rest in order", async () => {
    const fake = fakeSqs((body) =>
      JSON.parse(body).value === 2 ? { Code: "InvalidMessageContents", SenderFault: true } : undefined,
    );
    const quarantined: string[] = [];
    const outcome = await relay(
      [1, 2, 3].map((n) => record(n)),
      {
        sqs: fake.sqs,
        queueUrl: "q",
        quarantine: async (r) => void quarantined.push(r.sequenceNumber),
      },
    );
    expect(outcome).toMatchObject({ sent: 2, quarantined: 1, failed: [] });
    expect(values(fake.sent)).toEqual([1, 3]);
    expect(quarantined).toEqual(["1002"]);
  });

  it("fails a record SQS could not take now, and every record after it, to keep each key's order", async () => {
    const fake = fakeSqs((body) =>
      JSON.parse(body).value === 12 ? { Code: "ServiceUnavailable", SenderFault: false } : undefined,
    );
    const records = Array.from({ length: 15 }, (_, i) => record(i, `key-${i % 2}`));
    const outcome = await relay(records, { sqs: fake.sqs, queueUrl: "q", quarantine: async () => {} });
    // Retried from the failed record on (the queue drops the repeats of any that did go out).
    expect(outcome.failed).toEqual(records.slice(12).map((r) => r.sequenceNumber));
    expect(values(fake.sent).slice(0, 12)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(new Set(fake.sent.map((message) => message.group))).toEqual(new Set(["key-0", "key-1"]));
    expect(fake.sent.slice(0, 12).map((message) => message.dedup)).toEqual(
      records.slice(0, 12).map((_, i) => `id-${i}`),
    );
  });
});

/** A stream shard whose GetRecords answers the given pages in turn. */
function fakeStream(pages: Array<RelayRecord[] | "trimmed">) {
  let page = 0;
  return {
    send: async (command: { constructor: { name: string } }) => {
      if (command.constructor.name === "GetShardIteratorCommand") return { ShardIterator: "it-0" };
      const current = pages[page++];
      if (current === "trimmed") throw new TrimmedDataAccessException({ message: "trimmed", $metadata: {} });
      return {
        Records: (current ?? []).map((r) => ({
          eventName: "INSERT",
          dynamodb: { SequenceNumber: r.sequenceNumber, NewImage: r.image },
        })),
        NextShardIterator: `it-${page}`,
      };
    },
  } as never;
}

const pointer = (first: number, last: number, arrival = new Date(0).toISOString()) => ({
  DDBStreamBatchInfo: {
    shardId: "shard-1",
    startSequenceNumber: String(1000 + first),
    endSequenceNumber: String(1000 + last),
    streamArn: "arn:aws:dynamodb:local:000000000000:table/Outbox/stream/x",
    approximateArrivalOfFirstRecord: arrival,
    approximateArrivalOfLastRecord: arrival,
  },
});

/** The outbox table, read at `now` (the replay skips records past their expiry by this clock). */
const outboxTable = (now = 0) => {
  const model = new DynamoDBModel([{ name: "Outbox", hashKey: "id" }], { now: () => now });
  return { documents: model as never, tableName: "Outbox", model, now: () => now };
};

/**
 * When the replayed batches arrived. Any instant does: every test reads the outbox table at a clock set
 * relative to it (the replay's `now` is injected), never at the wall clock.
 */
const ARRIVAL = Date.parse("2026-11-20T10:00:00.000Z");

/** One failed batch (records 1 and 2, arrived at ARRIVAL) that the stream no longer holds, replayed at `now`. */
async function replayFromTable(
  fake: ReturnType<typeof fakeSqs>,
  now: number,
  records: Array<[n: number, key: string, committedAt: number]>,
) {
  fake.failureQueue.push({
    Body: JSON.stringify(pointer(1, 2, new Date(ARRIVAL).toISOString())),
    ReceiptHandle: "p1",
  });
  const outbox = outboxTable(now);
  for (const [n, key, committedAt] of records)
    await outbox.model.send(
      new PutCommand({
        TableName: "Outbox",
        Item: outboxRecord(`id-${n}`, { key, version: version(n), value: n }, committedAt),
      }),
    );
  return replayFailedBatches(
    fakeStream(["trimmed"]),
    "failures",
    { sqs: fake.sqs, queueUrl: "q", quarantine: async () => {} },
    outbox,
  );
}

describe("failed-batch replay", () => {
  it("pages past empty pages to the batch's end sequence number", async () => {
    const stream = fakeStream([[], [], [record(1), record(2)], [], [record(3), record(4)]]);
    expect(
      (await readStreamRange(stream, pointer(1, 3).DDBStreamBatchInfo)).map((r) => r.sequenceNumber),
    ).toEqual(["1001", "1002", "1003"]);
  });

  it("keeps the pointer when the stream never reaches the batch's end, and sends nothing twice", async () => {
    const fake = fakeSqs();
    fake.failureQueue.push({ Body: JSON.stringify(pointer(1, 3)), ReceiptHandle: "p1" });
    const stream = fakeStream([[record(1)], ...Array.from({ length: 60 }, () => [] as RelayRecord[])]);
    const result = await replayFailedBatches(
      stream,
      "failures",
      { sqs: fake.sqs, queueUrl: "q", quarantine: async () => {} },
      outboxTable(),
    );
    expect(result).toMatchObject({ batches: 1, sent: 0, remaining: 1 });
    expect(fake.deleted).toEqual([]);
  });

  it("replays a batch the stream no longer has from the outbox table, then deletes the pointer", async () => {
    const fake = fakeSqs();
    // Replayed an hour after the batch arrived: well within the outbox records' retention.
    const result = await replayFromTable(fake, ARRIVAL + 3_600_000, [
      [1, "b", ARRIVAL],
      [2, "a", ARRIVAL + 10],
      [3, "a", ARRIVAL + 5],
      [9, "z", ARRIVAL + 3_600_000], // another batch's, long after
    ]);
    expect(result).toMatchObject({ batches: 1, sent: 3, fromOutboxTable: 3, remaining: 0 });
    // Each key's changes in version order.
    expect(fake.sent.map((m) => [JSON.parse(m.body).key, JSON.parse(m.body).value])).toEqual([
      ["a", 2],
      ["a", 3],
      ["b", 1],
    ]);
    expect(fake.deleted).toEqual(["p1"]);
  });

  it("counts as sent from the outbox table only the records that were sent, and keeps the pointer", async () => {
    // One record's send keeps failing: of the three read from the table, two were sent.
    const fake = fakeSqs((body) =>
      JSON.parse(body).key === "b" ? { Code: "InternalError", SenderFault: false } : undefined,
    );
    // Replayed an hour after the batch arrived: well within the outbox records' retention.
    const result = await replayFromTable(fake, ARRIVAL + 3_600_000, [
      [1, "b", ARRIVAL + 1],
      [2, "a", ARRIVAL + 2],
      [3, "a", ARRIVAL + 3],
    ]);
    expect(result).toMatchObject({ batches: 1, sent: 2, fromOutboxTable: 2, remaining: 1 });
    expect(fake.deleted).toEqual([]);
  });

  it("sends no record past its expiry from the outbox table, and keeps the pointer", async () => {
    const fake = fakeSqs();
    // Replayed a second after the records' retention ended, before TTL deleted them.
    const result = await replayFromTable(fake, ARRIVAL + OUTBOX_RETENTION_SECONDS * 1000 + 1000, [
      [1, "a", ARRIVAL],
    ]);
    expect(result).toMatchObject({ batches: 1, sent: 0, fromOutboxTable: 0, remaining: 1 });
    expect(fake.sent).toEqual([]);
    expect(fake.deleted).toEqual([]);
  });
});
