/** TransactionalOutbox's Relay: the outbox table's stream → the FIFO queue (core/outbox's relayHandler). */
import { documents, relayConfig, sqs } from "@serverless-coordination/core/aws";
import { Quarantine, relayHandler } from "@serverless-coordination/core/outbox";
import { logger } from "./logger.ts";

const config = relayConfig();

export const handler = relayHandler({
  sqs,
  queueUrl: config.CHANGES_QUEUE_URL,
  quarantine: new Quarantine(documents, config.QUARANTINE_TABLE),
  logger,
});
