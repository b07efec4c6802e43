/**
 * The Replicator on ChangesQueue (SQS FIFO): applies each change to every replica but the primary,
 * conditionally on the replica's lastUpdate (an equal version is a duplicate delivery, an older one a
 * stale one: both are no-ops, and counted as such), then counts the change once through an idempotency
 * claim. The primary (the first replica) is skipped: it committed the change together with the outbox
 * record that sent it, so it holds that version or a newer one, and an apply there could only be a no-op.
 * A batch goes to each replica in one invocation (`applyBatch`: the changes are still one conditional
 * write each), so a batch of ten costs two invocations with three replicas, not thirty. The changes that
 * every follower applied are then counted together (`countAll`: their claims in one transaction, their
 * completions with the counters' increments in another).
 *
 * A message fails while any replica does not answer, and is retried with a growing delay until the
 * replica is back; the FIFO group (the key) holds the key's later changes back meanwhile: the group is
 * the queue-side lock that keeps two consumers off the same key. Other keys go on, side by side.
 *
 * `replicatorHandler` takes its ports (replicas, counter, queue), so the handler the function runs and
 * the one the outbox simulation runs are the same code.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { METRIC } from "@serverless-coordination/core/aws";
import { processFifoGroups } from "@serverless-coordination/core/idempotency";
import { type ChangeMessage, changeMessageSchema } from "@serverless-coordination/core/outbox";
import type {
  ApplyReply,
  ChangeCounter,
  CountResult,
  ReplicaInvoker,
} from "@serverless-coordination/core/replication";
import { versionTime } from "@serverless-coordination/core/replication";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

/** The delay before a failed message is delivered again: 1 s, doubling per receive, at most 30 s. */
export const retryDelaySeconds = (receiveCount: number) => Math.min(30, 2 ** Math.max(0, receiveCount - 1));

export interface ReplicatorPorts {
  replicas: ReplicaInvoker;
  counter: Pick<ChangeCounter, "countAll">;
  sqs: Pick<SQSClient, "send">;
  queueUrl: string;
  logger: Pick<Logger, "info" | "warn">;
  metrics?: Pick<Metrics, "addMetric" | "publishStoredMetrics">;
  now?: () => number;
}

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
  const resultMetric = {
    applied: METRIC.replicaApplied,
    duplicate: METRIC.replicaDuplicate,
    stale: METRIC.replicaStale,
  } as const;
  /**
   * The batch's changes on every follower: one `applyBatch` invocation per replica, side by side. Answers,
   * per message id, each follower's result for its change (or why it has none).
   */
  const applyAll = async (changes: Array<[string, ChangeMessage]>) => {
    const replies = await Promise.allSettled(
      followers.map((id) =>
        replicas.invoke(id, { op: "applyBatch", changes: changes.map(([, change]) => change) }),
      ),
    );
    const outcomes = new Map<string, Array<ApplyReply | { error: string }>>();
    changes.forEach(([messageId], index) => {
      outcomes.set(
        messageId,
        replies.map((reply) => {
          if (reply.status === "rejected") return { error: String(reply.reason) };
          return reply.value.results[index] ?? { error: "the replica answered fewer results than changes" };
        }),
      );
    });
    return outcomes;
  };

  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const startedAt = now();
    const changes: Array<[string, ChangeMessage]> = [];
    for (const record of event.Records) {
      const sentAt = Number(record.attributes.SentTimestamp);
      // The first delivery only: a redelivery's wait is the retry delay, not the queue's.
      if (Number.isFinite(sentAt) && record.attributes.ApproximateReceiveCount === "1")
        metrics?.addMetric(
          METRIC.stageQueueToReplicator,
          MetricUnit.Milliseconds,
          Math.max(0, startedAt - sentAt),
        );
      const change = changeMessageSchema.safeParse(parseJson(record.body));
      if (change.success) changes.push([record.messageId, change.data]);
    }
    const parsed = new Map(changes);
    const outcomes = changes.length > 0 ? await applyAll(changes) : new Map();
    const appliedAt = now();

    // The changes to count: applied on every follower, with no earlier message of their group failing
    // (that one fails its group's later messages, which come back after it). Counted together.
    const countable: Array<[string, ChangeMessage]> = [];
    const held = new Set<string>();
    for (const record of event.Records) {
      const group = record.attributes.MessageGroupId ?? record.messageId;
      const change = parsed.get(record.messageId);
      const results: Array<ApplyReply | { error: string }> | undefined = outcomes.get(record.messageId);
      if (held.has(group) || !change || !results || results.some((result) => "error" in result)) {
        held.add(group);
        continue;
      }
      countable.push([record.messageId, change]);
    }
    const counts = new Map<string, CountResult | { error: string }>();
    const countingAt = now();
    if (countable.length > 0) {
      try {
        const answers = await counter.countAll(countable.map(([, change]) => change));
        for (const [index, [messageId]] of countable.entries()) counts.set(messageId, answers[index]!);
      } catch (error) {
        for (const [messageId] of countable) counts.set(messageId, { error: String(error) });
      }
    }
    const countMs = now() - countingAt;

    /** One message, in its group's order: every replica's result for it, then its count. */
    const finish = async (record: SQSRecord): Promise<void> => {
      // A message that is not a change fails here, alone (it was left out of the batch).
      const message = parsed.get(record.messageId) ?? changeMessageSchema.parse(parseJson(record.body));
      const results: Array<ApplyReply | { error: string }> = outcomes.get(record.messageId)!;
      const down = followers.filter((_, index) => "error" in results[index]!);
      for (const result of results)
        if ("result" in result) metrics?.addMetric(resultMetric[result.result], MetricUnit.Count, 1);
      if (down.length > 0) {
        metrics?.addMetric(METRIC.replicationRetried, MetricUnit.Count, 1);
        throw new Error(`${down.join(", ")} did not apply ${message.key}@${message.version}`);
      }
      metrics?.addMetric(METRIC.stageApply, MetricUnit.Milliseconds, appliedAt - startedAt);
      metrics?.addMetric(
        METRIC.replicationLag,
        MetricUnit.Milliseconds,
        Math.max(0, appliedAt - versionTime(message.version)),
      );
      const counted = counts.get(record.messageId) ?? { error: "not counted" };
      metrics?.addMetric(METRIC.stageCount, MetricUnit.Milliseconds, countMs);
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
      delays.set(record.attributes.MessageGroupId ?? record.messageId, delay);
      logger.warn("change not applied; it will be retried", {
        messageId: record.messageId,
        retryInSeconds: delay,
        error: error instanceof Error ? error.message : String(error),
      });
    });
    // The failed messages, and the later ones of their groups, come back after the delay rather than the
    // queue's visibility timeout.
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    const entries = event.Records.filter((record) => failed.has(record.messageId)).map((record, index) => ({
      Id: String(index),
      ReceiptHandle: record.receiptHandle,
      VisibilityTimeout: delays.get(record.attributes.MessageGroupId ?? record.messageId) ?? 1,
    }));
    for (let start = 0; start < entries.length; start += 10) {
      await sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: entries.slice(start, start + 10),
          }),
        )
        .catch((error: unknown) =>
          logger.warn("could not shorten the retry delay", { error: String(error) }),
        );
    }
    metrics?.publishStoredMetrics();
    return response;
  };
}

/** The body as JSON; a body that is not JSON parses as undefined (and fails the schema). */
function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
