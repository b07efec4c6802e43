import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import {
  AttributeType,
  BillingMode,
  type ITable,
  StreamViewType,
  Table,
  type TableProps,
} from "aws-cdk-lib/aws-dynamodb";
import type { Grant } from "aws-cdk-lib/aws-iam";
import { type Function as LambdaFunction, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import { type IQueue, Queue, type QueueProps } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { checkInteger, type FunctionOverrides, ownFunction } from "./function.ts";

export interface TransactionalOutboxProps {
  /**
   * The outbox table: your own (partition key `id`, a stream with new images, TTL on `expiresAt`), or
   * one is made (on demand, point-in-time recovery, retained on delete).
   */
  readonly outboxTable?: ITable;
  /** Tunes the table made when `outboxTable` is absent. */
  readonly outboxTableProps?: Partial<TableProps>;
  /** The FIFO queue the changes go to: yours, or one is made with a dead-letter queue. */
  readonly queue?: IQueue;
  readonly queueProps?: Partial<QueueProps>;
  /** Receives after which a message goes to the dead-letter queue (default 5; 1 to 1000). */
  readonly maxReceiveCount?: number;
  /** Tunes the Relay function (memory, timeout, ...; not its code). */
  readonly relayProps?: FunctionOverrides;
  /** Stream records per Relay invocation (default 100; 1 to 10000). */
  readonly batchSize?: number;
  /** Retries of a failed Relay batch before it goes to the failure queue (default 10; 0 to 10000). */
  readonly retryAttempts?: number;
  /** Tunes the replay function (sends failed batches and quarantined records again). */
  readonly replayProps?: FunctionOverrides;
  /** What happens to the tables made here when the stack is deleted (default RETAIN). */
  readonly removalPolicy?: RemovalPolicy;
  /** CloudWatch alarms on the dead-letter queue, the failure queue and the Relay's errors (default true). */
  readonly alarms?: boolean;
}

/**
 * Atomic enqueue: your function writes its data and an outbox record (`outboxRecord` of
 * @serverless-coordination/core/outbox) in one DynamoDB transaction; the Relay sends each record from
 * the table's stream to a FIFO queue (group = the record's key, deduplication = its id), so a change is
 * sent if and only if it was committed. A record SQS refuses for good is quarantined with its content; a
 * batch that keeps failing lands on the failure queue, and the replay function sends both again.
 *
 *   const outbox = new TransactionalOutbox(this, "Orders");
 *   outbox.grantCommit(ordersApi);            // OUTBOX_TABLE, and write access to it
 *   new IdempotentConsumer(this, "Billing", { queue: outbox.queue, handler: billing });
 */
export class TransactionalOutbox extends Construct {
  readonly outboxTable: ITable;
  readonly queue: IQueue;
  /** The queue's dead-letter queue (undefined when you passed your own queue). */
  readonly deadLetterQueue?: IQueue;
  readonly relay: LambdaFunction;
  /** Relay batches that kept failing (pointers into the stream), for the replay. */
  readonly relayFailures: Queue;
  /** Records that can never be sent, with their content. */
  readonly quarantineTable: Table;
  readonly replay: LambdaFunction;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: TransactionalOutboxProps = {}) {
    super(scope, id);
    const owner = `TransactionalOutbox ${this.node.path}`;
    checkInteger(owner, "maxReceiveCount", props.maxReceiveCount, 1, 1000);
    checkInteger(owner, "batchSize", props.batchSize, 1, 10_000);
    checkInteger(owner, "retryAttempts", props.retryAttempts, 0, 10_000);
    if (props.queue && (props.queueProps || props.maxReceiveCount !== undefined))
      throw new Error(
        `${owner}: queueProps and maxReceiveCount tune the queue made here; you passed your own queue`,
      );
    if (props.outboxTable && props.outboxTableProps)
      throw new Error(
        `${owner}: outboxTableProps tunes the table made here; you passed your own outboxTable`,
      );
    if (props.queue && !props.queue.fifo)
      throw new Error(
        `${owner}: queue must be a FIFO queue (the key's message group keeps its changes in order)`,
      );
    if (props.outboxTable && !props.outboxTable.tableStreamArn)
      throw new Error(`${owner}: outboxTable must have a stream (NEW_IMAGE): the Relay reads it`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const tableDefaults = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    };

    this.outboxTable =
      props.outboxTable ??
      new Table(this, "OutboxTable", {
        partitionKey: { name: "id", type: AttributeType.STRING },
        timeToLiveAttribute: "expiresAt",
        stream: StreamViewType.NEW_IMAGE,
        ...tableDefaults,
        ...props.outboxTableProps,
      });

    if (props.queue) this.queue = props.queue;
    else {
      const deadLetterQueue = new Queue(this, "DeadLetterQueue", {
        fifo: true,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(deadLetterQueue).acknowledge({
        id: "AwsSolutions-SQS3",
        reason: "It is the dead-letter queue of the outbox's queue.",
      });
      this.deadLetterQueue = deadLetterQueue;
      this.queue = new Queue(this, "Queue", {
        fifo: true,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(60),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
        ...props.queueProps,
      });
    }

    this.quarantineTable = new Table(this, "QuarantineTable", {
      partitionKey: { name: "sequenceNumber", type: AttributeType.STRING },
      ...tableDefaults,
    });
    this.relayFailures = new Queue(this, "RelayFailures", {
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.relayFailures).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "The Relay's on-failure destination is itself a dead-letter queue; the replay function drains it.",
    });

    this.relay = ownFunction(
      this,
      "Relay",
      "relay",
      {
        timeout: Duration.seconds(30),
        environment: {
          CHANGES_QUEUE_URL: this.queue.queueUrl,
          QUARANTINE_TABLE: this.quarantineTable.tableName,
        },
      },
      props.relayProps,
    );
    this.queue.grantSendMessages(this.relay);
    this.quarantineTable.grantReadWriteData(this.relay);
    this.relay.addEventSource(
      new DynamoEventSource(this.outboxTable, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: props.batchSize ?? 100,
        bisectBatchOnError: true,
        retryAttempts: props.retryAttempts ?? 10,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.relayFailures),
      }),
    );

    this.replay = ownFunction(
      this,
      "Replay",
      "outbox-replay",
      {
        timeout: Duration.minutes(5),
        environment: {
          CHANGES_QUEUE_URL: this.queue.queueUrl,
          QUARANTINE_TABLE: this.quarantineTable.tableName,
          RELAY_FAILURES_QUEUE_URL: this.relayFailures.queueUrl,
          OUTBOX_TABLE: this.outboxTable.tableName,
        },
      },
      props.replayProps,
    );
    this.queue.grantSendMessages(this.replay);
    this.quarantineTable.grantReadWriteData(this.replay);
    this.outboxTable.grantReadData(this.replay);
    this.outboxTable.grantStreamRead(this.replay);
    this.relayFailures.grantConsumeMessages(this.replay);
    for (const reader of [this.relay, this.replay])
      Validations.of(reader.role!).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          "dynamodb:ListStreams (added with stream read access) supports no resource-level permissions.",
      });

    if (props.alarms ?? true) {
      const queued = (queue: IQueue, name: string) =>
        new Alarm(this, name, {
          metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
          alarmDescription: `${name}: messages are waiting (${owner})`,
        });
      if (this.deadLetterQueue) this.alarms.push(queued(this.deadLetterQueue, "DeadLetterAlarm"));
      this.alarms.push(queued(this.relayFailures, "RelayFailuresAlarm"));
      this.alarms.push(
        new Alarm(this, "RelayErrorsAlarm", {
          metric: this.relay.metricErrors({ period: Duration.minutes(1) }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
          alarmDescription: `The Relay failed (${owner})`,
        }),
      );
    }
  }

  /** Lets `fn` commit data with outbox records: write access to the table, its name in `variable`. */
  grantCommit(fn: LambdaFunction, variable = "OUTBOX_TABLE"): Grant {
    fn.addEnvironment(variable, this.outboxTable.tableName);
    return this.outboxTable.grantWriteData(fn);
  }
}
