/**
 * OutboxReplay, run by an operator (see the README): relays the quarantined outbox records again, and the
 * batches the Relay gave up on (pointers on its failure queue, read back from the stream).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { documents } from "../../shared/adapters/clients.ts";
import { sqs, streams } from "../../shared/adapters/queues.ts";
import { outboxReplayConfig } from "../../shared/config.ts";
import { replayFailedBatches } from "../../shared/outbox/failed-batches.ts";
import { Quarantine } from "../../shared/outbox/quarantine.ts";

const logger = new Logger();
const config = outboxReplayConfig();
const quarantine = new Quarantine(documents, config.QUARANTINE_TABLE);

export async function handler() {
  const target = {
    sqs,
    queueUrl: config.CHANGES_QUEUE_URL,
    quarantine: (record: Parameters<Quarantine["put"]>[0], reason: string) => quarantine.put(record, reason),
  };
  const failedBatches = await replayFailedBatches(streams, config.RELAY_FAILURES_QUEUE_URL, target, {
    documents,
    tableName: config.OUTBOX_TABLE,
  });
  const quarantined = await quarantine.replay(sqs, config.CHANGES_QUEUE_URL);
  const result = { failedBatches, quarantined };
  logger.info("outbox replay", result);
  return result;
}
