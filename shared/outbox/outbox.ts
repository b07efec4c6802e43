/**
 * The transactional outbox: the data write and its outbox record commit in one TransactWriteItems, so a
 * change is published (by the Relay, from the outbox table's stream) if and only if it was committed.
 */
import { createHash } from "node:crypto";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";

/** DynamoDB's limits on one transaction. */
export const MAX_TRANSACTION_ACTIONS = 100;
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

/** How long an outbox record stays in the table after its commit (the stream has it for 24 hours). */
export const OUTBOX_RETENTION_SECONDS = 7 * 24 * 3600;

/** The message every accepted write puts on ChangesQueue. */
export interface ChangeMessage {
  key: string;
  version: string;
  value: unknown;
}

export interface OutboxRecord {
  /** Unique per change: the queue's MessageDeduplicationId and the consumers' idempotency key. */
  id: string;
  key: string;
  version: string;
  /** The ChangeMessage as JSON, exactly the body the Relay sends. */
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
    payload: JSON.stringify(change),
    createdAt: new Date(now).toISOString(),
    expiresAt: Math.floor(now / 1000) + OUTBOX_RETENTION_SECONDS,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the actions are lib-dynamodb's TransactItems, of any shape.
export type TransactAction = Record<string, any>;

export class TransactionTooLarge extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransactionTooLarge";
  }
}

/** Checks DynamoDB's limits before sending, so an oversized commit fails clearly and sends nothing. */
export function checkTransactionLimits(actions: TransactAction[]): void {
  if (actions.length === 0) throw new TransactionTooLarge("a transaction needs at least one action");
  if (actions.length > MAX_TRANSACTION_ACTIONS)
    throw new TransactionTooLarge(
      `${actions.length} actions; a transaction holds at most ${MAX_TRANSACTION_ACTIONS}`,
    );
  let bytes = 0;
  for (const action of actions) {
    const body = Object.values(action)[0] as { Item?: object; Key?: object } | undefined;
    const item = body?.Item ?? body?.Key;
    if (item) bytes += JSON.stringify(marshall(item, { removeUndefinedValues: true })).length;
  }
  if (bytes > MAX_TRANSACTION_BYTES)
    throw new TransactionTooLarge(
      `about ${bytes} bytes of items; a transaction holds at most ${MAX_TRANSACTION_BYTES}`,
    );
}

/**
 * Commits the actions (the data writes and the outbox records) all or nothing. `token` makes a retried
 * commit apply once: DynamoDB answers a repeat of the same token within 10 minutes without applying it
 * again. Returns the index of each action whose condition failed when the transaction was cancelled.
 */
export async function commit(
  documents: DynamoDBDocumentClient,
  actions: TransactAction[],
  token: string,
): Promise<{ ok: true } | { ok: false; failedConditions: number[]; reasons: unknown[] }> {
  checkTransactionLimits(actions);
  try {
    await documents.send(
      new TransactWriteCommand({ TransactItems: actions, ClientRequestToken: clientRequestToken(token) }),
    );
    return { ok: true };
  } catch (error) {
    if (error instanceof TransactionCanceledException) {
      const reasons = error.CancellationReasons ?? [];
      const failedConditions = reasons.flatMap((reason, index) =>
        reason.Code === "ConditionalCheckFailed" ? [index] : [],
      );
      if (failedConditions.length > 0) return { ok: false, failedConditions, reasons };
    }
    throw error;
  }
}

/** ClientRequestToken allows at most 36 characters: a longer token is hashed. */
export function clientRequestToken(token: string): string {
  return token.length <= 36 ? token : createHash("sha256").update(token).digest("hex").slice(0, 36);
}
