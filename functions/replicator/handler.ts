/**
 * The Replicator on ChangesQueue (SQS FIFO): applies each change to every replica, conditionally on the
 * replica's lastUpdate (an equal version is a duplicate delivery, an older one a stale one: both are
 * no-ops, and counted as such), then counts the change once through an idempotency claim.
 *
 * A message fails while any replica does not answer, and is retried with a growing delay until the
 * replica is back; the FIFO group (the key) holds the key's later changes back meanwhile: the group is
 * the queue-side lock that keeps two consumers off the same key. Other keys go on (skipGroupOnError).
 */
import { processPartialResponse, SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
import { Logger } from "@aws-lambda-powertools/logger";
import { ChangeMessageVisibilityCommand } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { documents, lambda } from "../../shared/adapters/clients.ts";
import { LambdaReplicas } from "../../shared/adapters/lambda-replicas.ts";
import { sqs } from "../../shared/adapters/queues.ts";
import { replicatorConfig } from "../../shared/config.ts";
import { Claims } from "../../shared/idempotency/claims.ts";
import { ChangeCounter } from "../../shared/replication/change-counter.ts";
import type { ApplyResult } from "../../shared/replication/replica-store.ts";
import { VERSION_PATTERN } from "../../shared/replication/version.ts";

const logger = new Logger();
const config = replicatorConfig();
const replicas = new LambdaReplicas(
  lambda,
  config.REPLICA_IDS,
  config.REPLICA_FUNCTIONS,
  config.REPLICATION_CALL_TIMEOUT_MS,
);
const counter = new ChangeCounter(
  documents,
  config.CHANGE_COUNTER_TABLE,
  new Claims(documents, config.CLAIM_TABLE, {
    leaseMs: config.CLAIM_LEASE_MS,
    maxSkewMs: config.MAX_CLOCK_SKEW_MS,
  }),
);
const processor = new SqsFifoPartialProcessorAsync();

const change = z.object({
  key: z.string().min(1),
  version: z.string().regex(VERSION_PATTERN),
  value: z.unknown(),
});

/** The delay before a failed message is delivered again: 1 s, doubling per receive, at most 30 s. */
export const retryDelaySeconds = (receiveCount: number) => Math.min(30, 2 ** Math.max(0, receiveCount - 1));

async function applyChange(record: SQSRecord): Promise<void> {
  const message = change.parse(JSON.parse(record.body));
  const results = await Promise.allSettled(
    replicas.replicaIds.map((id) =>
      replicas.invoke<{ result: ApplyResult; version: string }>(id, { op: "apply", ...message }),
    ),
  );
  const down = replicas.replicaIds.filter((_, index) => results[index]!.status === "rejected");
  const outcomes = Object.fromEntries(
    replicas.replicaIds.map((id, index) => {
      const result = results[index]!;
      return [id, result.status === "fulfilled" ? result.value.result : "unavailable"];
    }),
  );
  if (down.length > 0) {
    // Come back sooner than the queue's visibility timeout, and later each time.
    const delay = retryDelaySeconds(Number(record.attributes.ApproximateReceiveCount ?? 1));
    await sqs
      .send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: config.CHANGES_QUEUE_URL,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: delay,
        }),
      )
      .catch(() => {});
    throw new Error(`${down.join(", ")} did not apply ${message.key}@${message.version}; retry in ${delay}s`);
  }
  const counted = await counter.count(message);
  if (counted === "busy") throw new Error(`another worker is counting ${message.key}@${message.version}`);
  logger.info("change", { key: message.key, version: message.version, replicas: outcomes, counter: counted });
}

export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  processPartialResponse(event, applyChange, processor, {
    context,
    skipGroupOnError: true,
    throwOnFullBatchFailure: false,
  });
