/**
 * A model of a DynamoDB stream (NEW_IMAGE) on one table of the DynamoDB model, for the outbox simulation.
 * It models what the Relay, its event source and OutboxReplay depend on, including what a naive fake
 * would not:
 * - several shards: an item's records stay in commit order within its shard, but records of different
 *   items (two versions of one key have two outbox items) may sit in different shards and be relayed in
 *   any order relative to each other;
 * - retention: records older than 24 hours are trimmed; an iterator or a sequence number in the trimmed
 *   range answers TrimmedDataAccessException;
 * - GetRecords may answer an empty page (with a next iterator) although records follow;
 * - sequence numbers are decimal strings that only grow, compared as numbers.
 * Shards never close or split here (AWS rolls them over about every four hours; nothing in our code
 * depends on shard lineage, since each shard's batches are relayed independently).
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBModel } from "./dynamodb-model.ts";

export const STREAM_RETENTION_MS = 24 * 3600 * 1000;

export interface StreamRecord {
  shardId: string;
  sequenceNumber: bigint;
  eventName: "INSERT" | "MODIFY" | "REMOVE";
  keys: Record<string, AttributeValue>;
  newImage?: Record<string, AttributeValue>;
  /** When the write landed (virtual ms). */
  at: number;
}

export interface StreamsModelOptions {
  now: () => number;
  random: () => number;
  shards: number;
  /** Share of GetRecords calls that answer an empty page although records follow. */
  emptyPageRate?: number;
}

class TrimmedDataAccessException extends Error {
  override name = "TrimmedDataAccessException";
}
class InvalidArgument extends Error {
  override name = "ValidationException";
}

export class StreamsModel {
  readonly streamArn: string;
  readonly shardIds: string[];
  private readonly records = new Map<string, StreamRecord[]>();
  /** Per shard, the highest sequence number trimmed away (0 while nothing was). */
  private readonly trimmedUpTo = new Map<string, bigint>();
  private sequence = 10n ** 20n;

  private readonly options: StreamsModelOptions;

  constructor(model: DynamoDBModel, tableName: string, hashKey: string, options: StreamsModelOptions) {
    this.options = options;
    this.streamArn = `arn:aws:dynamodb:us-east-1:000000000000:table/${tableName}/stream/sim`;
    this.shardIds = Array.from(
      { length: options.shards },
      (_, index) => `shardId-0000000000000-${String(index).padStart(8, "0")}`,
    );
    for (const shardId of this.shardIds) this.records.set(shardId, []);
    model.onWrite((table, old, next) => {
      if (table !== tableName) return;
      const item = (next ?? old)!;
      const key = { [hashKey]: item[hashKey] };
      const shardId = this.shardIds[shardOf(String(item[hashKey]), this.shardIds.length)]!;
      this.sequence += 1n + BigInt(Math.floor(options.random() * 3));
      this.records.get(shardId)!.push({
        shardId,
        sequenceNumber: this.sequence,
        eventName: !old ? "INSERT" : next ? "MODIFY" : "REMOVE",
        keys: marshall(key),
        ...(next ? { newImage: marshall(next) } : {}),
        at: options.now(),
      });
    });
  }

  /** Drops what is past retention. */
  trim(): void {
    const horizon = this.options.now() - STREAM_RETENTION_MS;
    for (const [shardId, records] of this.records) {
      const keep = records.findIndex((record) => record.at >= horizon);
      if (keep === 0 || records.length === 0) continue;
      const last = keep < 0 ? records.length - 1 : keep - 1;
      this.trimmedUpTo.set(shardId, records[last]!.sequenceNumber);
      this.records.set(shardId, keep < 0 ? [] : records.slice(keep));
    }
  }

  /** The records of a shard after `after` (exclusive), at most `limit`; for the event source. */
  recordsAfter(shardId: string, after: bigint, limit: number): StreamRecord[] {
    this.trim();
    const records = this.records.get(shardId)!;
    const start = records.findIndex((record) => record.sequenceNumber > after);
    return start < 0 ? [] : records.slice(start, start + limit);
  }

  /** Whether the shard still holds records after `after`. */
  hasRecordsAfter(shardId: string, after: bigint): boolean {
    return this.recordsAfter(shardId, after, 1).length > 0;
  }

  /** The DynamoDB Streams client's entry point: GetShardIterator and GetRecords. */
  async send(command: { input: Record<string, unknown>; constructor: { name: string } }) {
    this.trim();
    const input = command.input;
    switch (command.constructor.name) {
      case "GetShardIteratorCommand":
        return { ShardIterator: this.iterator(input) };
      case "GetRecordsCommand":
        return this.getRecords(String(input.ShardIterator), Number(input.Limit ?? 1000));
      default:
        throw new Error(`the streams model does not know ${command.constructor.name}`);
    }
  }

  private iterator(input: Record<string, unknown>): string {
    if (input.StreamArn !== this.streamArn) throw new InvalidArgument(`no stream ${input.StreamArn}`);
    const shardId = String(input.ShardId);
    const records = this.records.get(shardId);
    if (!records) throw new InvalidArgument(`no shard ${shardId}`);
    const type = String(input.ShardIteratorType);
    const trimmed = this.trimmedUpTo.get(shardId) ?? 0n;
    if (type === "TRIM_HORIZON") return `${shardId}|${trimmed}`;
    if (type === "LATEST") return `${shardId}|${this.sequence}`;
    const sequence = BigInt(String(input.SequenceNumber));
    if (sequence <= trimmed)
      throw new TrimmedDataAccessException(
        `sequence number ${sequence} is beyond the stream's retention in ${shardId}`,
      );
    if (type === "AT_SEQUENCE_NUMBER") return `${shardId}|${sequence - 1n}`;
    if (type === "AFTER_SEQUENCE_NUMBER") return `${shardId}|${sequence}`;
    throw new InvalidArgument(`unknown iterator type ${type}`);
  }

  private getRecords(iterator: string, limit: number) {
    const [shardId, position] = iterator.split("|") as [string, string];
    const after = BigInt(position);
    if (after < (this.trimmedUpTo.get(shardId) ?? 0n))
      throw new TrimmedDataAccessException(`the iterator's position in ${shardId} was trimmed`);
    if (this.options.random() < (this.options.emptyPageRate ?? 0))
      return { Records: [], NextShardIterator: iterator };
    const page = this.recordsAfter(shardId, after, Math.min(limit, 1000));
    const last = page[page.length - 1]?.sequenceNumber ?? after;
    return {
      Records: page.map((record) => ({
        eventID: `${record.sequenceNumber}`,
        eventName: record.eventName,
        eventSource: "aws:dynamodb",
        awsRegion: "us-east-1",
        dynamodb: {
          ApproximateCreationDateTime: new Date(Math.floor(record.at / 1000) * 1000),
          Keys: record.keys,
          NewImage: record.newImage,
          SequenceNumber: String(record.sequenceNumber),
          StreamViewType: "NEW_IMAGE",
        },
      })),
      // The shard is open: there is always a next iterator.
      NextShardIterator: `${shardId}|${last}`,
    };
  }
}

/** FNV-1a: which shard an item's records go to. */
function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}
