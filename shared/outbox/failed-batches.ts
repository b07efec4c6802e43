/**
 * Replays the batches the Relay gave up on. After its bounded retries, the stream event source sends a
 * pointer to the failed batch (shard and sequence numbers, not the records) to the Relay's failure
 * queue. While the stream still holds those records (24 hours), this reads them back from the stream
 * and relays them; a pointer is deleted once its records are sent, and stays on the queue otherwise.
 */

import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import {
  type _Record,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from "@aws-sdk/client-dynamodb-streams";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { type RelayRecord, type RelayTarget, relay } from "./relay.ts";

interface BatchPointer {
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    streamArn: string;
  };
}

export async function readStreamRange(
  streams: DynamoDBStreamsClient,
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
    }
    if (batch.length === 0) break;
    iterator = page.NextShardIterator;
  }
  return records;
}

export async function replayFailedBatches(
  streams: DynamoDBStreamsClient,
  failureQueueUrl: string,
  target: RelayTarget,
): Promise<{ batches: number; sent: number; remaining: number }> {
  const result = { batches: 0, sent: 0, remaining: 0 };
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
      try {
        records = await readStreamRange(streams, pointer);
      } catch {
        // The stream no longer has them (past its 24 hours) or cannot be read now: the pointer stays.
        result.remaining++;
        continue;
      }
      const outcome = await relay(records, target);
      result.sent += outcome.sent;
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
