/**
 * Lambda as the outbox simulation needs it: invocations that can crash at any step of the real handler,
 * and the two event source mappings of the stack with the rules AWS applies.
 *
 * - An `Invocation` wraps the ports a handler gets. A crash happens at a call into a port (before or after
 *   the call landed): from then on the handler's code never runs again (its pending calls never settle)
 *   and the invocation fails, as when the process dies or times out.
 * - The stream mapping (the Relay's): per shard, one batch at a time in order, up to `batchSize`; a
 *   function error bisects the batch (splits do not count as retries) and retries; ReportBatchItemFailures
 *   restarts from the lowest failed sequence number; after `retryAttempts` the batch's pointer goes to the
 *   on-failure queue and the shard moves on. A checkpoint may be lost, delivering a batch again.
 * - The queue mapping (the Replicator's): pollers receive up to `batchSize` messages, invoke, and delete
 *   the ones not reported failed; a delete may be lost (the message comes back after its visibility
 *   timeout: a duplicate delivery); a function error deletes nothing.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { Scheduler } from "./scheduler.ts";
import type { SqsModel } from "./sqs-model.ts";
import type { StreamRecord, StreamsModel } from "./streams-model.ts";

export class Crash extends Error {
  override name = "Crash";
}

const never = <T>() => new Promise<T>(() => {});

/** One invocation of a function: its ports go through `guard`, which may crash it. */
export class Invocation {
  private crashed = false;
  private onCrash: (error: Crash) => void = () => {};

  private readonly crashRate: number;
  private readonly random: () => number;

  constructor(crashRate: number, random: () => number) {
    this.crashRate = crashRate;
    this.random = random;
  }

  /** Runs the handler; rejects with Crash as soon as the invocation crashes. */
  run<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.onCrash = reject;
      work().then(
        (value) => !this.crashed && resolve(value),
        (error) => !this.crashed && reject(error),
      );
    });
  }

  private crash(where: string): Promise<never> {
    if (!this.crashed) {
      this.crashed = true;
      this.onCrash(new Crash(`crashed ${where}`));
    }
    return never();
  }

  /** A call into a port: may crash before it is sent or after it landed (its answer then never seen). */
  async guard<T>(call: () => Promise<T>): Promise<T> {
    if (this.crashed) return never();
    if (this.random() < this.crashRate) {
      if (this.random() < 0.5) return this.crash("before a call");
      await call().catch(() => {});
      return this.crash("after a call landed");
    }
    try {
      const value = await call();
      return this.crashed ? never() : value;
    } catch (error) {
      if (this.crashed) return never();
      throw error;
    }
  }

  /** A client whose `send` goes through this invocation. */
  client<C extends { send(command: never, options?: never): Promise<unknown> }>(client: C): C {
    return { send: (command: never) => this.guard(() => client.send(command)) } as unknown as C;
  }
}

export type FailureDestination = (pointer: object) => void;

export interface StreamSourceOptions {
  batchSize: number;
  retryAttempts: number;
  bisectBatchOnError: boolean;
  /** Share of successful batches whose checkpoint is lost (the batch is delivered again). */
  lostCheckpointRate: () => number;
  /** How long a failed batch waits before its retry (ms), by attempt. */
  retryDelayMs: (attempt: number) => number;
  paused: () => boolean;
}

/** The Relay's event source mapping on one shard. */
export class StreamEventSource {
  /** The last sequence number checkpointed (exclusive start of the next batch). */
  position = 0n;
  private attempts = 0;
  /** A batch being retried (after a bisect or a partial failure): its records, in order. */
  private pending: StreamRecord[] | undefined;
  invocations = 0;
  gaveUp = 0;

  private readonly streams: StreamsModel;
  private readonly shardId: string;
  private readonly invoke: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
  private readonly onFailure: FailureDestination;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly options: StreamSourceOptions;

  constructor(
    streams: StreamsModel,
    shardId: string,
    invoke: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>,
    onFailure: FailureDestination,
    scheduler: Scheduler,
    random: () => number,
    options: StreamSourceOptions,
  ) {
    this.streams = streams;
    this.shardId = shardId;
    this.invoke = invoke;
    this.onFailure = onFailure;
    this.scheduler = scheduler;
    this.random = random;
    this.options = options;
  }

  start(): void {
    this.scheduler.at(1 + Math.floor(this.random() * 100), () => void this.poll(250));
  }

  /** Caught up: nothing pending and nothing after the checkpoint. */
  idle(): boolean {
    return !this.pending && !this.streams.hasRecordsAfter(this.shardId, this.position);
  }

  private next(delayMs: number, idleMs: number): void {
    this.scheduler.at(Math.max(1, Math.round(delayMs)), () => void this.poll(idleMs));
  }

  private async poll(idleMs: number): Promise<void> {
    if (this.options.paused()) return this.next(1000, 250);
    if (!this.pending) {
      const records = this.streams.recordsAfter(this.shardId, this.position, this.options.batchSize);
      if (records.length === 0) return this.next(idleMs, Math.min(idleMs * 2, 300_000));
      this.pending = records;
      this.attempts = 0;
    }
    const batch = this.pending;
    this.invocations++;
    let response: DynamoDBBatchResponse;
    try {
      response = await this.invoke(this.event(batch));
    } catch {
      // A function error (or a crash): bisect, else count a retry.
      if (this.options.bisectBatchOnError && batch.length > 1) {
        this.pending = batch.slice(0, Math.ceil(batch.length / 2));
        return this.next(this.options.retryDelayMs(this.attempts), 250);
      }
      return this.retry(batch);
    }
    const failed = (response.batchItemFailures ?? []).map((failure) => BigInt(failure.itemIdentifier));
    if (failed.length === 0) {
      if (this.random() >= this.options.lostCheckpointRate()) {
        this.position = batch[batch.length - 1]!.sequenceNumber;
      }
      this.pending = undefined;
      return this.next(1, 250);
    }
    // Checkpoint before the lowest failed record and retry from it.
    const lowest = [...failed].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0]!;
    const from = batch.findIndex((record) => record.sequenceNumber === lowest);
    if (from < 0) {
      // An identifier that names no record of the batch: Lambda fails the whole batch.
      return this.retry(batch);
    }
    if (from > 0) this.position = batch[from - 1]!.sequenceNumber;
    return this.retry(batch.slice(from));
  }

  private retry(batch: StreamRecord[]): void {
    this.attempts++;
    if (this.attempts > this.options.retryAttempts) {
      this.onFailure(this.pointer(batch));
      this.gaveUp++;
      this.position = batch[batch.length - 1]!.sequenceNumber;
      this.pending = undefined;
      this.next(1, 250);
      return;
    }
    this.pending = batch;
    this.next(this.options.retryDelayMs(this.attempts), 250);
  }

  private pointer(batch: StreamRecord[]) {
    const first = batch[0]!;
    const last = batch[batch.length - 1]!;
    return {
      requestContext: { condition: "RetryAttemptsExhausted", approximateInvokeCount: this.attempts },
      DDBStreamBatchInfo: {
        shardId: this.shardId,
        startSequenceNumber: String(first.sequenceNumber),
        endSequenceNumber: String(last.sequenceNumber),
        approximateArrivalOfFirstRecord: new Date(first.at).toISOString(),
        approximateArrivalOfLastRecord: new Date(last.at).toISOString(),
        batchSize: batch.length,
        streamArn: this.streams.streamArn,
      },
    };
  }

  private event(batch: StreamRecord[]): DynamoDBStreamEvent {
    return {
      Records: batch.map((record) => ({
        eventID: String(record.sequenceNumber),
        eventName: record.eventName,
        eventSource: "aws:dynamodb",
        awsRegion: "us-east-1",
        eventSourceARN: this.streams.streamArn,
        dynamodb: {
          ApproximateCreationDateTime: Math.floor(record.at / 1000),
          Keys: record.keys as never,
          NewImage: record.newImage as never,
          SequenceNumber: String(record.sequenceNumber),
          StreamViewType: "NEW_IMAGE",
        },
      })),
    };
  }
}

export interface QueueSourceOptions {
  batchSize: number;
  pollers: number;
  /** Share of deletes that are lost (the message is delivered again later). */
  lostDeleteRate: () => number;
  paused: () => boolean;
}

/** The Replicator's event source mapping on a FIFO queue. */
export class QueueEventSource {
  invocations = 0;

  private readonly sqs: SqsModel;
  private readonly url: string;
  private readonly invoke: (event: SQSEvent) => Promise<SQSBatchResponse>;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly options: QueueSourceOptions;

  constructor(
    sqs: SqsModel,
    url: string,
    invoke: (event: SQSEvent) => Promise<SQSBatchResponse>,
    scheduler: Scheduler,
    random: () => number,
    options: QueueSourceOptions,
  ) {
    this.sqs = sqs;
    this.url = url;
    this.invoke = invoke;
    this.scheduler = scheduler;
    this.random = random;
    this.options = options;
  }

  start(): void {
    for (let poller = 0; poller < this.options.pollers; poller++)
      this.scheduler.at(1 + Math.floor(this.random() * 100), () => void this.poll(250));
  }

  private next(delayMs: number, idleMs: number): void {
    this.scheduler.at(Math.max(1, Math.round(delayMs)), () => void this.poll(idleMs));
  }

  private async poll(idleMs: number): Promise<void> {
    if (this.options.paused()) return this.next(1000, 250);
    const messages = this.sqs.receive(this.url, this.options.batchSize);
    if (messages.length === 0) return this.next(idleMs, Math.min(idleMs * 2, 20_000));
    this.invocations++;
    let response: SQSBatchResponse;
    try {
      response = await this.invoke({
        Records: messages.map((message) => ({
          messageId: message.messageId,
          receiptHandle: message.receiptHandle!,
          body: message.body,
          attributes: this.sqs.attributes(message) as never,
          messageAttributes: {},
          md5OfBody: "",
          eventSource: "aws:sqs",
          eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:ChangesQueue.fifo",
          awsRegion: "us-east-1",
        })),
      });
    } catch {
      // A function error: nothing is deleted; the messages come back after their visibility timeout.
      return this.next(1, 250);
    }
    const failed = new Set((response.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    for (const message of messages) {
      if (failed.has(message.messageId) || this.random() < this.options.lostDeleteRate()) continue;
      try {
        this.sqs.delete(this.url, message.receiptHandle!);
      } catch {
        // The receipt handle is no longer current: the message was delivered again meanwhile.
      }
    }
    this.next(1, 250);
  }
}
