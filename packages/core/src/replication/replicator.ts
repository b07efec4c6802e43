/**
 * The Replicator's work on a batch of ChangesQueue (SQS FIFO) messages, in named steps the handler
 * (replicator-handler.ts) composes:
 * - `applyToFollowers`: each change on every replica but the primary, conditionally on the replica's
 *   lastUpdate (an equal version is a duplicate delivery, an older one a stale one: both no-ops). The
 *   primary is skipped: it committed the change with the outbox record that sent it, so it holds that
 *   version or a newer one. A batch goes to each replica in one invocation (the changes are still one
 *   conditional write each), so a batch of ten costs two invocations with three replicas, not thirty.
 * - `countableChanges`: the changes applied on every follower with no earlier message of their FIFO group
 *   failing (that one fails its group's later messages, which come back after it).
 * - `countChanges`: those counted once, together (their claims in one transaction, their completions with
 *   the counters' increments in another).
 * - `retryDelaySeconds` and `shortenRetryDelays`: a failed message comes back after a growing delay
 *   rather than the queue's visibility timeout, while the FIFO group holds the key's later changes back.
 */
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import type { ApplyReply, ReplicaInvoker } from "../contracts/replica.ts";
import { type ChangeMessage, changeMessageSchema } from "../outbox/outbox.ts";
import type { ChangeCounter, CountResult } from "./change-counter.ts";

/** A follower's answer for one change: its result, or why it has none. */
export type FollowerOutcome = ApplyReply | { error: string };

/** The delay before a failed message is delivered again: 1 s, doubling per receive, at most 30 s. */
export const retryDelaySeconds = (receiveCount: number) => Math.min(30, 2 ** Math.max(0, receiveCount - 1));

/** The FIFO group of a record (its key); a record without one is a group of its own. */
export const groupOf = (record: SQSRecord) => record.attributes.MessageGroupId ?? record.messageId;

/** The records' changes by message id; a body that is not a change is left out (it fails alone). */
export function parseChanges(records: SQSRecord[]): Map<string, ChangeMessage> {
  const changes = new Map<string, ChangeMessage>();
  for (const record of records) {
    const change = changeMessageSchema.safeParse(parseJson(record.body));
    if (change.success) changes.set(record.messageId, change.data);
  }
  return changes;
}

/** Each change on every follower, one `applyBatch` invocation per follower, side by side. */
export async function applyToFollowers(
  replicas: ReplicaInvoker,
  followers: string[],
  changes: Map<string, ChangeMessage>,
): Promise<Map<string, FollowerOutcome[]>> {
  const outcomes = new Map<string, FollowerOutcome[]>();
  if (changes.size === 0) return outcomes;
  const batch = [...changes];
  const replies = await Promise.allSettled(
    followers.map((id) =>
      replicas.invoke(id, { op: "applyBatch", changes: batch.map(([, change]) => change) }),
    ),
  );
  batch.forEach(([messageId], index) => {
    outcomes.set(
      messageId,
      replies.map((reply) => {
        if (reply.status === "rejected") return { error: String(reply.reason) };
        return reply.value.results[index] ?? { error: "the replica answered fewer results than changes" };
      }),
    );
  });
  return outcomes;
}

/** The changes to count, in the batch's order: applied everywhere, no earlier failure in their group. */
export function countableChanges(
  records: SQSRecord[],
  changes: Map<string, ChangeMessage>,
  outcomes: Map<string, FollowerOutcome[]>,
): Array<[string, ChangeMessage]> {
  const countable: Array<[string, ChangeMessage]> = [];
  const held = new Set<string>();
  for (const record of records) {
    const group = groupOf(record);
    const change = changes.get(record.messageId);
    const results = outcomes.get(record.messageId);
    if (held.has(group) || !change || !results || results.some((result) => "error" in result)) {
      held.add(group);
      continue;
    }
    countable.push([record.messageId, change]);
  }
  return countable;
}

/** The countable changes counted together; a failure of the count is every one's answer. */
export async function countChanges(
  counter: Pick<ChangeCounter, "countAll">,
  countable: Array<[string, ChangeMessage]>,
): Promise<Map<string, CountResult | { error: string }>> {
  const counts = new Map<string, CountResult | { error: string }>();
  if (countable.length === 0) return counts;
  try {
    const answers = await counter.countAll(countable.map(([, change]) => change));
    for (const [index, [messageId]] of countable.entries()) counts.set(messageId, answers[index]!);
  } catch (error) {
    for (const [messageId] of countable) counts.set(messageId, { error: String(error) });
  }
  return counts;
}

/**
 * The failed messages (and their groups' later ones) made visible again after their group's delay, ten
 * per request; a failure to do so only leaves them the queue's visibility timeout, so it is reported.
 */
export async function shortenRetryDelays(
  sqs: Pick<SQSClient, "send">,
  queueUrl: string,
  failed: SQSRecord[],
  delays: Map<string, number>,
  warn: (message: string, extra: Record<string, unknown>) => void,
): Promise<void> {
  const entries = failed.map((record, index) => ({
    Id: String(index),
    ReceiptHandle: record.receiptHandle,
    VisibilityTimeout: delays.get(groupOf(record)) ?? 1,
  }));
  for (let start = 0; start < entries.length; start += 10) {
    await sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries.slice(start, start + 10),
        }),
      )
      .catch((error: unknown) => warn("could not shorten the retry delay", { error: String(error) }));
  }
}

/** The body as JSON; a body that is not JSON parses as undefined (and fails the schema). */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
