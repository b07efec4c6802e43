/**
 * The Relay: the outbox table's stream → ChangesQueue (SQS FIFO), reporting partial batch failures (see
 * relay.ts for the rules). `relayHandler` takes its ports, so the function and the outbox
 * simulation run the same code.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { METRIC } from "../observability/metrics.ts";
import { VERSION_PATTERN, versionTime } from "../version.ts";
import type { Quarantine } from "./quarantine.ts";
import { type RelayRecord, relay } from "./relay.ts";

export interface RelayPorts {
  sqs: Pick<SQSClient, "send">;
  queueUrl: string;
  quarantine: Pick<Quarantine, "put">;
  /** A logger (Powertools' Logger fits). */
  logger: {
    info(message: string, extra: Record<string, unknown>): void;
    error(message: string, extra: Record<string, unknown>): void;
  };
  /** Metrics (Powertools' Metrics fits). */
  metrics?: {
    addMetric(name: string, unit: "Milliseconds" | "Count", value: number): void;
    publishStoredMetrics(): void;
  };
  now?: () => number;
}

export function relayHandler({ sqs, queueUrl, quarantine, logger, metrics, now = Date.now }: RelayPorts) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const invokedAt = now();
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
    for (const record of records) {
      const version = record.image.version?.S;
      if (version && VERSION_PATTERN.test(version))
        metrics?.addMetric(
          METRIC.stageStreamToRelay,
          "Milliseconds",
          Math.max(0, invokedAt - versionTime(version)),
        );
    }
    const outcome = await relay(records, {
      sqs,
      queueUrl,
      quarantine: async (record, reason) => {
        logger.error("quarantined a poison outbox record", { sequenceNumber: record.sequenceNumber, reason });
        await quarantine.put(record, reason);
      },
    });
    if (records.length > 0) metrics?.addMetric(METRIC.stageRelaySend, "Milliseconds", now() - invokedAt);
    logger.info("relayed", { records: records.length, ...outcome, failed: outcome.failed.length });
    metrics?.addMetric(METRIC.relaySent, "Count", outcome.sent);
    metrics?.addMetric(METRIC.relayQuarantined, "Count", outcome.quarantined);
    metrics?.addMetric(METRIC.relayFailed, "Count", outcome.failed.length);
    metrics?.publishStoredMetrics();
    return { batchItemFailures: outcome.failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
