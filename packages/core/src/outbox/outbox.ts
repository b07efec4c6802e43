/**
 * The transactional outbox: the data write and its outbox record commit in one TransactWriteItems, so a
 * change is published (by the Relay, from the outbox table's stream) if and only if it was committed.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { keySchema, sqsSafeJson } from "../validation.ts";
import { VERSION_PATTERN } from "../version.ts";

/** How long an outbox record stays in the table after its commit (the stream has it for 24 hours). */
export const OUTBOX_RETENTION_SECONDS = 7 * 24 * 3600;

/** The message every accepted write puts on ChangesQueue: the Relay sends it, the Replicator parses it. */
export const changeMessageSchema = z.object({
  key: keySchema,
  version: z.string().regex(VERSION_PATTERN),
  value: z.unknown(),
});
export type ChangeMessage = z.infer<typeof changeMessageSchema>;

/**
 * The FIFO message group of a key: the key itself when SQS allows it (at most 128 characters), else its
 * first 63 characters, `~` (never in a key) and the SHA-256 of the whole key. The group is only the
 * per-key order and lock; the message body carries the key itself.
 */
export function messageGroupId(key: string): string {
  if (key.length <= 128) return key;
  return `${key.slice(0, 63)}~${createHash("sha256").update(key).digest("hex")}`;
}

export interface OutboxRecord {
  /** Unique per change: the queue's MessageDeduplicationId and the consumers' idempotency key. */
  id: string;
  key: string;
  version: string;
  /** The ChangeMessage as JSON, exactly the body the Relay sends (only characters SQS accepts). */
  payload: string;
  createdAt: string;
  /** TTL attribute (epoch seconds). */
  expiresAt: number;
}

export function outboxRecord(id: string, change: ChangeMessage, now = Date.now()): OutboxRecord {
  return {
    id,
    key: change.key,
    version: change.version,
    payload: sqsSafeJson(change),
    createdAt: new Date(now).toISOString(),
    expiresAt: Math.floor(now / 1000) + OUTBOX_RETENTION_SECONDS,
  };
}
