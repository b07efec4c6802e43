/** The Relay: the outbox table's stream → ChangesQueue (SQS FIFO), reporting partial batch failures. */

import { Logger } from "@aws-lambda-powertools/logger";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { documents } from "../../shared/adapters/clients.ts";
import { sqs } from "../../shared/adapters/queues.ts";
import { relayConfig } from "../../shared/config.ts";
import { Quarantine } from "../../shared/outbox/quarantine.ts";
import { type RelayRecord, relay } from "../../shared/outbox/relay.ts";

const logger = new Logger();
const config = relayConfig();
const quarantine = new Quarantine(documents, config.QUARANTINE_TABLE);

export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  // Only inserts are changes to publish; the TTL's removals are not.
  const records: RelayRecord[] = event.Records.flatMap((record) =>
    record.eventName === "INSERT" && record.dynamodb?.NewImage && record.dynamodb.SequenceNumber
      ? [
          {
            sequenceNumber: record.dynamodb.SequenceNumber,
            image: record.dynamodb.NewImage as Record<string, AttributeValue>,
          },
        ]
      : [],
  );
  const outcome = await relay(records, {
    sqs,
    queueUrl: config.CHANGES_QUEUE_URL,
    quarantine: async (record, reason) => {
      logger.error("quarantined a poison outbox record", { sequenceNumber: record.sequenceNumber, reason });
      await quarantine.put(record, reason);
    },
  });
  logger.info("relayed", { records: records.length, ...outcome, failed: outcome.failed.length });
  return { batchItemFailures: outcome.failed.map((itemIdentifier) => ({ itemIdentifier })) };
}
