/**
 * Event source mappings (AWS::Lambda::EventSourceMapping): DynamoDB stream pollers and SQS pollers with
 * Lambda's delivery rules.
 *
 * Streams: records of a shard are delivered in order, in batches of at most BatchSize. A failed batch
 * is retried; with BisectBatchOnFunctionError it is split in two first (a split is not a retry,
 * as on AWS). With ReportBatchItemFailures the records before the first reported failure are
 * checkpointed and the batch is retried from that record (split in two first when bisecting, so a
 * poison record ends up alone and the records after it are not sent to the destination with it). After MaximumRetryAttempts retries the
 * batch's description (never its records: a stream destination gets pointers) goes to the on-failure
 * destination and the shard moves on.
 *
 * SQS: a batch is received, handed to the function and deleted on success; with ReportBatchItemFailures
 * only the reported messages stay. Messages that are not deleted come back after the visibility
 * timeout, and the queue's redrive policy moves them to the DLQ after maxReceiveCount receives.
 */
import { randomUUID } from "node:crypto";
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
  TrimmedDataAccessException,
} from "@aws-sdk/client-dynamodb-streams";
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { InvokeResult, LocalFunction } from "./functions.ts";
import type { FunctionRegistry } from "./lambda-api.ts";
import { LOCAL_REGION } from "./names.ts";
import type { LocalQueue } from "./resources.ts";
import type { Skipped } from "./support.ts";
import type { Template } from "./template.ts";

export interface MappingConfig {
  logicalId: string;
  kind: "dynamodb" | "sqs";
  sourceArn: string;
  fn: LocalFunction;
  batchSize: number;
  startingPosition: "TRIM_HORIZON" | "LATEST";
  bisectOnError: boolean;
  /** -1 retries until the records expire, as on AWS. */
  maxRetryAttempts: number;
  reportBatchItemFailures: boolean;
  onFailureArn?: string;
  enabled: boolean;
  /** SQS mappings: at most this many batches in flight (ScalingConfig.MaximumConcurrency). */
  maximumConcurrency?: number;
}

export function readMappings(
  template: Template,
  registry: FunctionRegistry,
  skip: (skipped: Skipped) => void = () => {},
): MappingConfig[] {
  return template.resourcesOfType("AWS::Lambda::EventSourceMapping").flatMap(([logicalId, resource]) => {
    try {
      return [readMapping(template, registry, logicalId, resource.Properties ?? {})];
    } catch (error) {
      skip({ logicalId, type: resource.Type, reason: (error as Error).message });
      return [];
    }
  });
}

function readMapping(
  template: Template,
  registry: FunctionRegistry,
  logicalId: string,
  props: Record<string, unknown>,
): MappingConfig {
  {
    const sourceArn = template.resolveString(props.EventSourceArn);
    const kind = sourceArn.startsWith("arn:aws:sqs:") ? "sqs" : "dynamodb";
    if (kind === "dynamodb" && !/^arn:aws:dynamodb:.*\/stream\//.test(sourceArn))
      throw new Error(`event source ${sourceArn} is not emulated (SQS queues and DynamoDB streams are)`);
    const types = (props.FunctionResponseTypes as string[] | undefined) ?? [];
    const destination = (props.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)
      ?.OnFailure?.Destination;
    return {
      logicalId,
      kind,
      sourceArn,
      fn: registry.require(template.resolveString(props.FunctionName)),
      batchSize: Number(props.BatchSize ?? (kind === "sqs" ? 10 : 100)),
      startingPosition: props.StartingPosition === "LATEST" ? "LATEST" : "TRIM_HORIZON",
      bisectOnError: props.BisectBatchOnFunctionError === true,
      maxRetryAttempts: Number(props.MaximumRetryAttempts ?? -1),
      reportBatchItemFailures: types.includes("ReportBatchItemFailures"),
      onFailureArn: destination === undefined ? undefined : template.resolveString(destination),
      enabled: props.Enabled !== false,
      maximumConcurrency:
        (props.ScalingConfig as { MaximumConcurrency?: unknown } | undefined)?.MaximumConcurrency ===
        undefined
          ? undefined
          : Number(
              template.resolve((props.ScalingConfig as { MaximumConcurrency: unknown }).MaximumConcurrency),
            ),
    } satisfies MappingConfig;
  }
}

export interface Poller {
  readonly mapping: MappingConfig;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Item identifiers a handler reported as failed, or "all" when the response says the whole batch failed. */
function reportedFailures(result: InvokeResult, mapping: MappingConfig): Set<string> | "all" | "none" {
  if (!result.ok) return "all";
  if (!mapping.reportBatchItemFailures) return "none";
  const failures = (result.payload as { batchItemFailures?: Array<{ itemIdentifier?: unknown }> } | null)
    ?.batchItemFailures;
  if (!failures || failures.length === 0) return "none";
  const ids = new Set<string>();
  for (const failure of failures) {
    // An empty or malformed identifier fails the whole batch, as Lambda does.
    if (typeof failure?.itemIdentifier !== "string" || failure.itemIdentifier === "") return "all";
    ids.add(failure.itemIdentifier);
  }
  return ids;
}

const retryDelay = (attempt: number) => Math.min(50 * 2 ** attempt, 1000);

// ---------------------------------------------------------------------------------------------------
// DynamoDB streams

interface ShardState {
  shardId: string;
  parentShardId?: string;
  iterator?: string;
  lastSequence?: string;
  closed: boolean;
}

/** How often a stream poller lists the stream's shards when none of its shards has closed meanwhile. */
const DESCRIBE_EVERY_MS = 1000;

export class StreamPoller implements Poller {
  private running = true;
  private readonly shards = new Map<string, ShardState>();
  /** When the shards were last listed; 0 lists them on the next poll (a shard closed: its child is new). */
  private describedAt = 0;
  private readonly loop: Promise<void>;

  readonly mapping: MappingConfig;
  private readonly streams: DynamoDBStreamsClient;
  private readonly sqs: SQSClient;
  private readonly queues: LocalQueue[];
  private readonly onError: (error: unknown) => void;

  constructor(
    mapping: MappingConfig,
    streams: DynamoDBStreamsClient,
    sqs: SQSClient,
    queues: LocalQueue[],
    onError: (error: unknown) => void,
  ) {
    this.mapping = mapping;
    this.streams = streams;
    this.sqs = sqs;
    this.queues = queues;
    this.onError = onError;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const progressed = await this.pollOnce();
        if (!progressed) await sleep(100);
      } catch (error) {
        if (this.running) this.onError(error);
        await sleep(500);
      }
    }
  }

  private async pollOnce(): Promise<boolean> {
    // Listing the shards on every poll would double the requests of a busy stream: shards come and go
    // rarely, and a closing shard (whose child has just appeared) asks for a listing at once.
    if (Date.now() - this.describedAt >= DESCRIBE_EVERY_MS) await this.describe();
    // A child shard waits until its parent is drained, which keeps each key's records in order.
    const ready = [...this.shards.values()].filter(
      (shard) =>
        !shard.closed && !(shard.parentShardId && this.shards.get(shard.parentShardId)?.closed === false),
    );
    const results = await Promise.all(ready.map((shard) => this.pollShard(shard)));
    return results.some(Boolean);
  }

  private async describe(): Promise<void> {
    this.describedAt = Date.now();
    const description = await this.streams.send(
      new DescribeStreamCommand({ StreamArn: this.mapping.sourceArn }),
    );
    for (const shard of description.StreamDescription?.Shards ?? []) {
      if (!shard.ShardId || this.shards.has(shard.ShardId)) continue;
      this.shards.set(shard.ShardId, {
        shardId: shard.ShardId,
        parentShardId: shard.ParentShardId,
        closed: false,
      });
    }
  }

  private async iterator(
    shard: ShardState,
    startingPosition: "TRIM_HORIZON" | "LATEST",
  ): Promise<string | undefined> {
    const response = await this.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.mapping.sourceArn,
        ShardId: shard.shardId,
        ...(shard.lastSequence
          ? { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", SequenceNumber: shard.lastSequence }
          : { ShardIteratorType: startingPosition }),
      }),
    );
    return response.ShardIterator;
  }

  private async pollShard(shard: ShardState): Promise<boolean> {
    if (!this.running) return false;
    shard.iterator ??= await this.iterator(shard, this.mapping.startingPosition);
    if (!shard.iterator) {
      shard.closed = true;
      this.describedAt = 0;
      return false;
    }
    let response: Awaited<ReturnType<typeof this.getRecords>>;
    try {
      response = await this.getRecords(shard.iterator);
    } catch (error) {
      // DynamoDB Local may answer an iterator on an empty shard with TrimmedDataAccessException: take a
      // fresh one (after the last processed record, or from the trim horizon) on the next poll.
      if (error instanceof TrimmedDataAccessException || error instanceof ExpiredIteratorException) {
        shard.iterator = await this.iterator(shard, "TRIM_HORIZON");
        return false;
      }
      throw error;
    }
    const records = (response.Records ?? []).filter(
      (record) =>
        !shard.lastSequence || BigInt(record.dynamodb?.SequenceNumber ?? "0") > BigInt(shard.lastSequence),
    );
    if (records.length > 0) await this.deliver(shard, records);
    shard.iterator = response.NextShardIterator;
    if (!shard.iterator) {
      shard.closed = true;
      this.describedAt = 0;
    }
    return records.length > 0;
  }

  private getRecords(iterator: string) {
    return this.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
  }

  /** Delivers a shard's records in order, batch by batch. */
  private async deliver(shard: ShardState, records: StreamRecord[]): Promise<void> {
    for (let start = 0; start < records.length && this.running; start += this.mapping.batchSize) {
      await this.processBatch(shard, records.slice(start, start + this.mapping.batchSize), 0);
      shard.lastSequence =
        records[Math.min(start + this.mapping.batchSize, records.length) - 1]?.dynamodb?.SequenceNumber;
    }
  }

  private async processBatch(shard: ShardState, batch: StreamRecord[], attempt: number): Promise<void> {
    let retries = attempt;
    let remaining = batch;
    while (remaining.length > 0 && this.running) {
      const result = await this.mapping.fn.invoke({
        Records: remaining.map((record) => this.toEvent(record)),
      });
      if (!result.ok) this.onError(`${result.error.errorType}: ${result.error.errorMessage}`);
      const failures = reportedFailures(result, this.mapping);
      if (failures === "none") return;
      if (failures !== "all") {
        // Checkpoint everything before the first failed record; retry from it.
        const first = remaining.findIndex((record) => failures.has(record.dynamodb?.SequenceNumber ?? ""));
        remaining = first < 0 ? [] : remaining.slice(first);
        if (remaining.length === 0) return;
      }
      if (this.mapping.bisectOnError && remaining.length > 1) {
        const half = Math.ceil(remaining.length / 2);
        await this.processBatch(shard, remaining.slice(0, half), retries);
        await this.processBatch(shard, remaining.slice(half), retries);
        return;
      }
      if (this.mapping.maxRetryAttempts >= 0 && retries >= this.mapping.maxRetryAttempts) {
        await this.sendToFailureDestination(shard, remaining, result, retries + 1);
        return;
      }
      retries += 1;
      await sleep(retryDelay(retries));
    }
  }

  private toEvent(record: StreamRecord) {
    const created = record.dynamodb?.ApproximateCreationDateTime;
    return {
      eventID: record.eventID,
      eventName: record.eventName,
      eventVersion: record.eventVersion,
      eventSource: "aws:dynamodb",
      // The stack's region, as on AWS (DynamoDB Local's own records say "ddblocal").
      awsRegion: LOCAL_REGION,
      dynamodb: {
        ...record.dynamodb,
        ApproximateCreationDateTime: created ? Math.floor(new Date(created).getTime() / 1000) : undefined,
      },
      eventSourceARN: this.mapping.sourceArn,
    };
  }

  private async sendToFailureDestination(
    shard: ShardState,
    records: StreamRecord[],
    result: InvokeResult,
    invokeCount: number,
  ): Promise<void> {
    if (!this.mapping.onFailureArn) return;
    const time = (record: StreamRecord | undefined) =>
      new Date(record?.dynamodb?.ApproximateCreationDateTime ?? Date.now()).toISOString();
    const message = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: this.mapping.fn.arn,
        condition: "RetryAttemptsExhausted",
        approximateInvokeCount: invokeCount,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: "$LATEST",
        functionError: result.ok ? undefined : "Unhandled",
      },
      version: "1.0",
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId: shard.shardId,
        startSequenceNumber: records[0]?.dynamodb?.SequenceNumber,
        endSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber,
        approximateArrivalOfFirstRecord: time(records[0]),
        approximateArrivalOfLastRecord: time(records.at(-1)),
        batchSize: records.length,
        streamArn: this.mapping.sourceArn,
      },
    };
    await sendToQueue(this.sqs, this.queues, this.mapping.onFailureArn, JSON.stringify(message));
  }
}

async function sendToQueue(sqs: SQSClient, queues: LocalQueue[], arn: string, body: string): Promise<void> {
  const queue = queues.find((candidate) => candidate.arn === arn);
  if (!queue) throw new Error(`on-failure destination ${arn} is not a queue of this stack`);
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queue.url,
      MessageBody: body,
      ...(queue.fifo ? { MessageGroupId: "failures", MessageDeduplicationId: randomUUID() } : {}),
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// SQS

export class QueuePoller implements Poller {
  private running = true;
  private readonly loops: Promise<void>[];
  private readonly queue: LocalQueue;

  readonly mapping: MappingConfig;
  private readonly sqs: SQSClient;
  private readonly onError: (error: unknown) => void;

  constructor(
    mapping: MappingConfig,
    sqs: SQSClient,
    queues: LocalQueue[],
    onError: (error: unknown) => void,
    /** Concurrent receive loops, as Lambda runs several pollers per queue. */
    pollers: number,
  ) {
    this.mapping = mapping;
    this.sqs = sqs;
    this.onError = onError;
    const queue = queues.find((candidate) => candidate.arn === mapping.sourceArn);
    if (!queue) throw new Error(`mapping ${mapping.logicalId}: no queue ${mapping.sourceArn}`);
    this.queue = queue;
    // Each loop has one batch in flight at a time, so the loops are the mapping's concurrency.
    const loops = Math.max(1, Math.min(pollers, mapping.maximumConcurrency ?? pollers));
    this.loops = Array.from({ length: loops }, () => this.run());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.pollOnce();
      } catch (error) {
        if (this.running) this.onError(error);
        await sleep(500);
      }
    }
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const response = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queue.url,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    return response.Messages ?? [];
  }

  private async pollOnce(): Promise<void> {
    const messages = await this.receive(this.mapping.batchSize, 1);
    // Fill a batch larger than one receive allows while messages are waiting.
    while (messages.length > 0 && messages.length < this.mapping.batchSize && this.running) {
      const more = await this.receive(this.mapping.batchSize - messages.length, 0);
      if (more.length === 0) break;
      messages.push(...more);
    }
    if (messages.length === 0 || !this.running) return;
    const result = await this.mapping.fn.invoke({
      Records: messages.map((message) => this.toEvent(message)),
    });
    if (!result.ok) this.onError(`${result.error.errorType}: ${result.error.errorMessage}`);
    const failures = reportedFailures(result, this.mapping);
    if (failures === "all") return; // every message comes back after the visibility timeout
    const done = messages.filter((message) => failures === "none" || !failures.has(message.MessageId ?? ""));
    for (let start = 0; start < done.length; start += 10) {
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queue.url,
          Entries: done.slice(start, start + 10).map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
    }
  }

  private toEvent(message: Message) {
    const messageAttributes = Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          stringValue: value.StringValue,
          binaryValue: value.BinaryValue ? Buffer.from(value.BinaryValue).toString("base64") : undefined,
          stringListValues: value.StringListValues ?? [],
          binaryListValues: [],
          dataType: value.DataType,
        },
      ]),
    );
    return {
      messageId: message.MessageId,
      receiptHandle: message.ReceiptHandle,
      body: message.Body,
      attributes: message.Attributes ?? {},
      messageAttributes,
      md5OfBody: message.MD5OfBody,
      eventSource: "aws:sqs",
      eventSourceARN: this.queue.arn,
      awsRegion: LOCAL_REGION,
    };
  }
}
