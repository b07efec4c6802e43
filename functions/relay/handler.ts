/** The Relay function: the outbox table's stream → ChangesQueue (see stream-relay.ts). */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { documents } from "../../shared/adapters/clients.ts";
import { sqs } from "../../shared/adapters/queues.ts";
import { relayConfig } from "../../shared/config.ts";
import { METRICS_NAMESPACE } from "../../shared/observability/metrics.ts";
import { Quarantine } from "../../shared/outbox/quarantine.ts";
import { relayHandler } from "./stream-relay.ts";

const config = relayConfig();

export const handler = relayHandler({
  sqs,
  queueUrl: config.CHANGES_QUEUE_URL,
  quarantine: new Quarantine(documents, config.QUARANTINE_TABLE),
  logger: new Logger(),
  metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "Relay" }),
});
