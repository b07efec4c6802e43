/** The Relay: the outbox table's stream → the FIFO queue (core/outbox's relayHandler), with EMF metrics. */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { documents, METRICS_NAMESPACE, relayConfig, sqs } from "@serverless-coordination/core/aws";
import { Quarantine, relayHandler } from "@serverless-coordination/core/outbox";

const config = relayConfig();

export const handler = relayHandler({
  sqs,
  queueUrl: config.CHANGES_QUEUE_URL,
  quarantine: new Quarantine(documents, config.QUARANTINE_TABLE),
  logger: new Logger(),
  metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "Relay" }),
});
