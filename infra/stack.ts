import { CoordinationApi } from "@serverless-coordination/cdk";
import { CfnOutput, Duration, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { Operations } from "./constructs/operations.ts";
import { authMode, contextInteger, leaseSettings, replicaCount, statefulRemovalPolicy } from "./context.ts";

/**
 * The demo app: the whole coordination service (the cdk package's CoordinationApi: replicas that are
 * Paxos acceptors and copies of the key-value store, the outbox, Relay, queue and Replicator of the
 * replication, the lookup service's tables, and the Api function behind one HTTP API), set from CDK
 * context, with the operator's alarms and dashboard, and the outputs the docs and tests name.
 */
export class CoordinationStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const lease = leaseSettings(this);
    const coordination = new CoordinationApi(this, "Coordination", {
      replicas: replicaCount(this),
      leaseDuration: Duration.millis(lease.leaseDurationMs),
      maxClockSkew: Duration.millis(lease.maxClockSkewMs),
      auth: authMode(this),
      throttle: {
        rateLimit: contextInteger(this, "apiRateLimit", 100, 1),
        burstLimit: contextInteger(this, "apiBurstLimit", 200, 1),
      },
      apiConcurrency: contextInteger(this, "apiConcurrency", 20, 0),
      removalPolicy: statefulRemovalPolicy(this),
      // The Operations construct below alarms on the same queues and functions, to one topic.
      alarms: false,
    });
    const { outbox } = coordination;

    new Operations(this, "Operations", {
      api: coordination.httpApi,
      functions: {
        Api: coordination.apiFunction,
        Relay: outbox.relay,
        Replicator: coordination.replicator,
        ...Object.fromEntries(coordination.replicas.map((replica) => [replica.id, replica.fn])),
      },
      changesDlq: outbox.deadLetterQueue!,
      relayFailures: outbox.relayFailures,
      relay: outbox.relay,
    });

    new CfnOutput(this, "ApiUrl", { value: coordination.url });
    new CfnOutput(this, "ChangesQueueUrl", { value: outbox.queue.queueUrl });
    new CfnOutput(this, "OutboxTableName", { value: outbox.outboxTable.tableName });
    new CfnOutput(this, "QuarantineTableName", { value: outbox.quarantineTable.tableName });
    new CfnOutput(this, "OutboxReplayFunctionName", { value: outbox.replay.functionName });
    new CfnOutput(this, "LeaseTableName", { value: coordination.lookup.leaseTable.tableName });
    new CfnOutput(this, "ServerTableName", { value: coordination.lookup.serverTable.tableName });
  }
}
