/** The replay: failed Relay batches and quarantined records sent again (core/outbox). */
import { Logger } from "@aws-lambda-powertools/logger";
import { documents, outboxReplayConfig, sqs, streams } from "@serverless-coordination/core/aws";
import { outboxReplayHandler, Quarantine } from "@serverless-coordination/core/outbox";

const config = outboxReplayConfig();

export const handler = outboxReplayHandler({
  streams,
  sqs,
  documents,
  quarantine: new Quarantine(documents, config.QUARANTINE_TABLE),
  changesQueueUrl: config.CHANGES_QUEUE_URL,
  relayFailuresQueueUrl: config.RELAY_FAILURES_QUEUE_URL,
  outboxTable: config.OUTBOX_TABLE,
  logger: new Logger(),
});
