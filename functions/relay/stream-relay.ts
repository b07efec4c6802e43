/**
 * The Relay: the outbox table's stream → ChangesQueue (SQS FIFO), reporting partial batch failures (see
 * packages/core/src/outbox/relay.ts for the rules). `relayHandler` takes its ports, so the function and the outbox
 * simulation run the same code.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { METRIC } from "@serverless-coordination/core/aws";
import type { Quarantine } from "@serverless-coordination/core/outbox";
import { type RelayRecord, relay } from "@serverless-coordination/core/outbox";
import { VERSION_PATTERN, versionTime } from "@serverless-coordination/core/replication";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";

export interface RelayPorts {
  sqs: Pick<SQSClient, "send">;
  queueUrl: string;
  quarantine: Pick<Quarantine, "put">;
  logger: Pick<Logger, "info" | "error">;
  metrics?: Pick<Metrics, "addMetric" | "publishStoredMetrics">;
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
          MetricUnit.Milliseconds,
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
    if (records.length > 0)
      metrics?.addMetric(METRIC.stageRelaySend, MetricUnit.Milliseconds, now() - invokedAt);
    logger.info("relayed", { records: records.length, ...outcome, failed: outcome.failed.length });
    metrics?.addMetric(METRIC.relaySent, MetricUnit.Count, outcome.sent);
    metrics?.addMetric(METRIC.relayQuarantined, MetricUnit.Count, outcome.quarantined);
    metrics?.addMetric(METRIC.relayFailed, MetricUnit.Count, outcome.failed.length);
    metrics?.publishStoredMetrics();
    return { batchItemFailures: outcome.failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
