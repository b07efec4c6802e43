/** The CoordinationApi's Replicator: the changes queue → every follower replica, and the change counter (core/replication). */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import {
  documents,
  LambdaReplicas,
  lambda,
  METRIC,
  METRICS_NAMESPACE,
  replicatorConfig,
  sqs,
} from "@serverless-coordination/core/aws";
import { Claims } from "@serverless-coordination/core/idempotency";
import {
  CHANGE_COUNTER_CLAIM_RETENTION_SECONDS,
  ChangeCounter,
  replicatorHandler,
} from "@serverless-coordination/core/replication";

const config = replicatorConfig();
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "Replicator" });

export const handler = replicatorHandler({
  replicas: new LambdaReplicas(
    lambda,
    config.REPLICA_IDS,
    config.REPLICA_FUNCTIONS,
    config.REPLICATION_CALL_TIMEOUT_MS,
  ),
  counter: new ChangeCounter(
    documents,
    config.CHANGE_COUNTER_TABLE,
    new Claims(documents, config.CLAIM_TABLE, {
      leaseMs: config.CLAIM_LEASE_MS,
      maxSkewMs: config.MAX_CLOCK_SKEW_MS,
      retentionSeconds: CHANGE_COUNTER_CLAIM_RETENTION_SECONDS,
      onTakeover: () => metrics.addMetric(METRIC.claimTakeovers, MetricUnit.Count, 1),
    }),
  ),
  sqs,
  queueUrl: config.CHANGES_QUEUE_URL,
  logger: new Logger(),
  metrics,
});
