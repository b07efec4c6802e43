import { CfnOutput, Duration, Validations } from "aws-cdk-lib";
import { AttributeType, BillingMode, StreamViewType, Table } from "aws-cdk-lib/aws-dynamodb";
import { StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq, SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { statefulRemovalPolicy } from "../context.ts";
import { fromRoot } from "../paths.ts";
import { AppFunction } from "./app-function.ts";
import type { Replica } from "./replicas.ts";

/** Gives a function the replicas to invoke: their ids and function names in order, and the permission. */
export function bindReplicas(fn: AppFunction, replicas: Replica[]): void {
  for (const replica of replicas) fn.allowInvoke(replica.fn);
  fn.addEnvironment("REPLICA_IDS", replicas.map((replica) => replica.id).join(","));
  fn.addEnvironment("REPLICA_FUNCTIONS", replicas.map((replica) => replica.fn.functionName).join(","));
}

export const table = (
  scope: Construct,
  id: string,
  partitionKey: string,
  extra: { ttl?: string; stream?: boolean } = {},
) =>
  new Table(scope, id, {
    partitionKey: { name: partitionKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy: statefulRemovalPolicy(scope),
    timeToLiveAttribute: extra.ttl,
    stream: extra.stream ? StreamViewType.NEW_IMAGE : undefined,
  });

/**
 * Atomic enqueue and idempotent consumers: the outbox table (written by the primary replica in the same
 * transaction as the data), the Relay from its stream to ChangesQueue (SQS FIFO), the quarantine and its
 * replay, and the Replicator that applies each change to every replica and keeps the change counters.
 */
export class Replication extends Construct {
  readonly outbox: Table;
  readonly changeCounters: Table;
  readonly changesQueue: Queue;
  readonly changesDlq: Queue;
  readonly relayFailures: Queue;
  readonly relay: AppFunction;
  readonly replicator: AppFunction;

  constructor(scope: Construct, id: string, replicas: Replica[]) {
    super(scope, id);
    const [primary] = replicas;
    if (!primary) throw new Error("replication needs at least one replica");

    this.outbox = table(this, "OutboxTable", "id", { ttl: "expiresAt", stream: true });
    primary.fn.bindTableReadWrite(this.outbox, "OUTBOX_TABLE");

    this.changesDlq = new Queue(this, "ChangesDlq", {
      fifo: true,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const changesDlq = this.changesDlq;
    this.changesQueue = new Queue(this, "ChangesQueue", {
      fifo: true,
      enforceSSL: true,
      // At least the Replicator's timeout; a failed change comes back sooner (the Replicator sets it).
      visibilityTimeout: Duration.seconds(60),
      // Retried until the replicas are back: with delays growing to 30 s, about four hours.
      deadLetterQueue: { queue: changesDlq, maxReceiveCount: 500 },
    });

    const quarantine = table(this, "QuarantineTable", "sequenceNumber");
    this.relayFailures = new Queue(this, "RelayFailures", {
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const relayFailures = this.relayFailures;
    Validations.of(relayFailures).acknowledge({
      id: "AwsSolutions-SQS3",
      reason: "The Relay's on-failure destination is itself a dead-letter queue; OutboxReplay drains it.",
    });
    this.relay = new AppFunction(this, "Relay", {
      entry: fromRoot("functions/relay/handler.ts"),
      timeout: Duration.seconds(30),
    })
      .bindQueueSend(this.changesQueue, "CHANGES_QUEUE_URL")
      .bindTableReadWrite(quarantine, "QUARANTINE_TABLE");
    const relay = this.relay;
    relay.addEventSource(
      new DynamoEventSource(this.outbox, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        bisectBatchOnError: true,
        retryAttempts: 10,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(relayFailures),
      }),
    );

    const replay = new AppFunction(this, "OutboxReplay", {
      entry: fromRoot("functions/outbox-replay/handler.ts"),
      timeout: Duration.minutes(5),
    })
      .bindQueueSend(this.changesQueue, "CHANGES_QUEUE_URL")
      .bindTableReadWrite(quarantine, "QUARANTINE_TABLE")
      // A batch whose records the stream no longer has is read back from the outbox table.
      .bindTableRead(this.outbox, "OUTBOX_TABLE");
    this.outbox.grantStreamRead(replay);
    relayFailures.grantConsumeMessages(replay);
    for (const reader of [relay, replay])
      Validations.of(reader.role!).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          "dynamodb:ListStreams (added with stream read access) supports no resource-level permissions.",
      });
    replay.addEnvironment("RELAY_FAILURES_QUEUE_URL", relayFailures.queueUrl);

    const claims = table(this, "ClaimTable", "pk", { ttl: "ttl" });
    this.changeCounters = table(this, "ChangeCounterTable", "pk");
    this.replicator = new AppFunction(this, "Replicator", {
      entry: fromRoot("functions/replicator/handler.ts"),
      timeout: Duration.seconds(30),
    })
      .bindTableReadWrite(claims, "CLAIM_TABLE")
      .bindTableReadWrite(this.changeCounters, "CHANGE_COUNTER_TABLE");
    const replicator = this.replicator;
    replicator.addEnvironment("CHANGES_QUEUE_URL", this.changesQueue.queueUrl);
    bindReplicas(replicator, replicas);
    replicator.addEventSource(
      new SqsEventSource(this.changesQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );

    new CfnOutput(scope, "ChangesQueueUrl", { value: this.changesQueue.queueUrl });
    new CfnOutput(scope, "OutboxTableName", { value: this.outbox.tableName });
    new CfnOutput(scope, "QuarantineTableName", { value: quarantine.tableName });
    new CfnOutput(scope, "OutboxReplayFunctionName", { value: replay.functionName });
  }
}
