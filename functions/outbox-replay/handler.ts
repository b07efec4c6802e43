/** The OutboxReplay function (see outbox-replay.ts). */
import { Logger } from "@aws-lambda-powertools/logger";
import { documents } from "../../shared/adapters/clients.ts";
import { sqs, streams } from "../../shared/adapters/queues.ts";
import { outboxReplayConfig } from "../../shared/config.ts";
import { Quarantine } from "../../shared/outbox/quarantine.ts";
import { outboxReplayHandler } from "./outbox-replay.ts";

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
