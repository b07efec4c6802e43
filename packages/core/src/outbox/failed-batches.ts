/**
 * Replays the batches the Relay gave up on. After its bounded retries, the stream event source sends a
 * pointer to the failed batch (shard, sequence numbers and arrival times, not the records) to the Relay's
 * failure queue. This reads the records back from the stream while it holds them (24 hours), paging
 * until the batch's end sequence number (a stream may answer empty pages before the data); when the
 * stream no longer has them, it reads the outbox records of the batch's time window from the outbox
 * table itself (they live 7 days). A pointer is deleted only once every record in it was sent.
 *
 * Records relayed twice are harmless: the queue drops a repeat within its 5-minute deduplication window,
 * and after that the consumers' lastUpdate rule and claims apply and count a change once.
 */

import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import {
  type _Record,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from "@aws-sdk/client-dynamodb-streams";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { OutboxRecord } from "./outbox.ts";
import { type RelayRecord, type RelayTarget, relay } from "./relay.ts";

interface BatchPointer {
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    streamArn: string;
    approximateArrivalOfFirstRecord?: string;
    approximateArrivalOfLastRecord?: string;
  };
}

/** How many empty pages in a row the replay accepts before it gives up on reaching the batch's end. */
const MAX_EMPTY_PAGES = 50;

export class StreamRangeUnreadable extends Error {
  override name = "StreamRangeUnreadable";
}

/** The INSERT records from the pointer's start to its end sequence number, every page of them. */
export async function readStreamRange(
  streams: Pick<DynamoDBStreamsClient, "send">,
  pointer: BatchPointer["DDBStreamBatchInfo"],
): Promise<RelayRecord[]> {
  const { ShardIterator } = await streams.send(
    new GetShardIteratorCommand({
      StreamArn: pointer.streamArn,
      ShardId: pointer.shardId,
      ShardIteratorType: "AT_SEQUENCE_NUMBER",
      SequenceNumber: pointer.startSequenceNumber,
    }),
  );
  const end = BigInt(pointer.endSequenceNumber);
  const records: RelayRecord[] = [];
  let iterator = ShardIterator;
  let emptyPages = 0;
  while (iterator) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
    const batch: _Record[] = page.Records ?? [];
    for (const record of batch) {
      const sequence = record.dynamodb?.SequenceNumber;
      if (!sequence || BigInt(sequence) > end) return records;
      if (record.eventName === "INSERT" && record.dynamodb?.NewImage)
        records.push({
          sequenceNumber: sequence,
          image: record.dynamodb.NewImage as Record<string, AttributeValue>,
        });
      if (BigInt(sequence) === end) return records;
    }
    emptyPages = batch.length === 0 ? emptyPages + 1 : 0;
    if (emptyPages > MAX_EMPTY_PAGES)
      throw new StreamRangeUnreadable(`${MAX_EMPTY_PAGES} empty pages before ${pointer.endSequenceNumber}`);
    iterator = page.NextShardIterator;
  }
  // The shard is closed and was read to its end.
  return records;
}

/**
 * The outbox records committed within a batch's arrival window (widened by a minute each side), from the
 * outbox table: for a batch whose records the stream no longer holds. Ordered by key and version, so
 * each key's changes go out in order.
 */
export async function readOutboxWindow(
  documents: Pick<DynamoDBDocumentClient, "send">,
  outboxTable: string,
  pointer: BatchPointer["DDBStreamBatchInfo"],
  now: () => number = Date.now,
): Promise<RelayRecord[]> {
  const first = Date.parse(pointer.approximateArrivalOfFirstRecord ?? "");
  const last = Date.parse(
    pointer.approximateArrivalOfLastRecord ?? pointer.approximateArrivalOfFirstRecord ?? "",
  );
  if (Number.isNaN(first) || Number.isNaN(last))
    throw new StreamRangeUnreadable("the pointer carries no arrival times to find its records by");
  const items: OutboxRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: outboxTable,
        // Records past their expiry that TTL has not deleted yet are not sent again: the consumers
        // remember a change (their claims) only a day beyond the outbox's retention.
        FilterExpression: "createdAt BETWEEN :from AND :to AND expiresAt > :now",
        ExpressionAttributeValues: {
          ":from": new Date(first - 60_000).toISOString(),
          ":to": new Date(last + 60_000).toISOString(),
          ":now": Math.floor(now() / 1000),
        },
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    items.push(...((page.Items ?? []) as OutboxRecord[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items
    .sort((a, b) => (a.key === b.key ? a.version.localeCompare(b.version) : a.key.localeCompare(b.key)))
    .map((item) => ({ sequenceNumber: `outbox:${item.id}`, image: marshall(item) }));
}

export async function replayFailedBatches(
  streams: Pick<DynamoDBStreamsClient, "send">,
  failureQueueUrl: string,
  target: RelayTarget,
  outbox: { documents: Pick<DynamoDBDocumentClient, "send">; tableName: string; now?: () => number },
): Promise<{ batches: number; sent: number; fromOutboxTable: number; remaining: number }> {
  const result = { batches: 0, sent: 0, fromOutboxTable: 0, remaining: 0 };
  for (;;) {
    const { Messages = [] } = await target.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: failureQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return result;
    for (const message of Messages) {
      const pointer = (JSON.parse(message.Body ?? "{}") as Partial<BatchPointer>).DDBStreamBatchInfo;
      if (!pointer) continue;
      result.batches++;
      let records: RelayRecord[];
      let fromOutboxTable = false;
      try {
        records = await readStreamRange(streams, pointer);
      } catch {
        // The stream no longer has them (past its 24 hours) or cannot be read to the batch's end.
        fromOutboxTable = true;
        try {
          records = await readOutboxWindow(outbox.documents, outbox.tableName, pointer, outbox.now);
        } catch {
          records = [];
        }
        if (records.length === 0) {
          // Nowhere to read them from now: the pointer stays for a later replay (or an operator).
          result.remaining++;
          continue;
        }
      }
      const outcome = await relay(records, target);
      result.sent += outcome.sent;
      if (fromOutboxTable) result.fromOutboxTable += outcome.sent;
      if (outcome.failed.length > 0) {
        result.remaining++;
        continue;
      }
      await target.sqs.send(
        new DeleteMessageCommand({ QueueUrl: failureQueueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
  }
}
