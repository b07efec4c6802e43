/**
 * The Replicator: ChangesQueue (SQS FIFO) → every follower replica, then the change counter, reporting
 * partial batch failures (see replicator.ts for the steps). A message fails while any replica does not
 * answer, and is retried with a growing delay until the replica is back; the FIFO group (the key) holds
 * the key's later changes back meanwhile: the group is the queue-side lock that keeps two consumers off
 * the same key. Other keys go on, side by side.
 *
 * `replicatorHandler` takes its ports, so the function and the outbox simulation run the same code.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { ReplicaInvoker } from "../contracts/replica.ts";
import { processFifoGroups } from "../idempotency/fifo-batch.ts";
import { METRIC } from "../observability/metrics.ts";
import { changeMessageSchema } from "../outbox/outbox.ts";
import { versionTime } from "../version.ts";
import type { ChangeCounter } from "./change-counter.ts";
import {
  applyToFollowers,
  countableChanges,
  countChanges,
  type FollowerOutcome,
  groupOf,
  parseChanges,
  parseJson,
  retryDelaySeconds,
  shortenRetryDelays,
} from "./replicator.ts";

export interface ReplicatorPorts {
  replicas: ReplicaInvoker;
  counter: Pick<ChangeCounter, "countAll">;
  sqs: Pick<SQSClient, "send">;
  queueUrl: string;
  /** A logger (Powertools' Logger fits). */
  logger: {
    info(message: string, extra: Record<string, unknown>): void;
    warn(message: string, extra: Record<string, unknown>): void;
  };
  /** Metrics (Powertools' Metrics fits). */
  metrics?: {
    addMetric(name: string, unit: "Milliseconds" | "Count", value: number): void;
    publishStoredMetrics(): void;
  };
  now?: () => number;
}

const RESULT_METRIC = {
  applied: METRIC.replicaApplied,
  duplicate: METRIC.replicaDuplicate,
  stale: METRIC.replicaStale,
} as const;

export function replicatorHandler({
  replicas,
  counter,
  sqs,
  queueUrl,
  logger,
  metrics,
  now = Date.now,
}: ReplicatorPorts) {
  /** The replicas a change is applied to: all but the primary, which committed it. */
  const followers = replicas.replicaIds.slice(1);

  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const startedAt = now();
    for (const record of event.Records) {
      const sentAt = Number(record.attributes.SentTimestamp);
      // The first delivery only: a redelivery's wait is the retry delay, not the queue's.
      if (Number.isFinite(sentAt) && record.attributes.ApproximateReceiveCount === "1")
        metrics?.addMetric(METRIC.stageQueueToReplicator, "Milliseconds", Math.max(0, startedAt - sentAt));
    }
    const changes = parseChanges(event.Records);
    const outcomes = await applyToFollowers(replicas, followers, changes);
    const appliedAt = now();
    const countable = countableChanges(event.Records, changes, outcomes);
    const countingAt = now();
    const counts = await countChanges(counter, countable);
    const countMs = now() - countingAt;

    /** One message, in its group's order: every follower's result for it, then its count. */
    const finish = async (record: SQSRecord): Promise<void> => {
      // A message that is not a change fails here, alone (it was left out of the batch).
      const message = changes.get(record.messageId) ?? changeMessageSchema.parse(parseJson(record.body));
      const results: FollowerOutcome[] = outcomes.get(record.messageId)!;
      const down = followers.filter((_, index) => "error" in results[index]!);
      for (const result of results)
        if ("result" in result) metrics?.addMetric(RESULT_METRIC[result.result], "Count", 1);
      if (down.length > 0) {
        metrics?.addMetric(METRIC.replicationRetried, "Count", 1);
        throw new Error(`${down.join(", ")} did not apply ${message.key}@${message.version}`);
      }
      metrics?.addMetric(METRIC.stageApply, "Milliseconds", appliedAt - startedAt);
      metrics?.addMetric(
        METRIC.replicationLag,
        "Milliseconds",
        Math.max(0, appliedAt - versionTime(message.version)),
      );
      const counted = counts.get(record.messageId) ?? { error: "not counted" };
      metrics?.addMetric(METRIC.stageCount, "Milliseconds", countMs);
      if (typeof counted === "object") throw new Error(`${message.key}@${message.version}: ${counted.error}`);
      if (counted === "busy") throw new Error(`another worker is counting ${message.key}@${message.version}`);
      logger.info("change", {
        key: message.key,
        version: message.version,
        replicas: Object.fromEntries([
          [replicas.replicaIds[0], "committed"],
          ...followers.map((id, index) => {
            const result = results[index]!;
            return [id, "result" in result ? result.result : "unavailable"];
          }),
        ]),
        counter: counted,
      });
    };

    const delays = new Map<string, number>();
    const response = await processFifoGroups(event.Records, finish, (record, error) => {
      const delay = retryDelaySeconds(Number(record.attributes.ApproximateReceiveCount ?? 1));
      delays.set(groupOf(record), delay);
      logger.warn("change not applied; it will be retried", {
        messageId: record.messageId,
        retryInSeconds: delay,
        error: error instanceof Error ? error.message : String(error),
      });
    });
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    await shortenRetryDelays(
      sqs,
      queueUrl,
      event.Records.filter((record) => failed.has(record.messageId)),
      delays,
      (message, extra) => logger.warn(message, extra),
    );
    metrics?.publishStoredMetrics();
    return response;
  };
}
