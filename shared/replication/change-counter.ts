/**
 * The per-key change counter: a consumer of ChangesQueue counts each change once, however often and in
 * whatever order the queue delivers it. An increment is the classic effect that is not idempotent, so
 * the count goes through a claim on the change (key and version identify it) and commits with the
 * claim's completion in one transaction.
 */
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { Claims } from "../idempotency/claims.ts";
import { type ChangeMessage, OUTBOX_RETENTION_SECONDS } from "../outbox/outbox.ts";

export type CountResult = "counted" | "duplicate" | "busy";

export const CHANGE_COUNTER_CONSUMER = "change-counter";

/**
 * How long the counter remembers a change it counted (its claim's TTL): longer than a change can be sent
 * again. OutboxReplay may resend a change from the outbox table for as long as its record lives
 * (OUTBOX_RETENTION_SECONDS; it skips records past their expiry that TTL has not deleted yet), so the
 * claims outlive it by a day. (With 24 hours, a change replayed from the outbox table a day after it was
 * counted was counted again: found by the outbox simulation.)
 */
export const CHANGE_COUNTER_CLAIM_RETENTION_SECONDS = OUTBOX_RETENTION_SECONDS + 86_400;

export class ChangeCounter {
  private readonly documents: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly claims: Claims;

  constructor(documents: DynamoDBDocumentClient, tableName: string, claims: Claims) {
    this.documents = documents;
    this.tableName = tableName;
    this.claims = claims;
  }

  async count(change: ChangeMessage): Promise<CountResult> {
    const claim = await this.claims.claim(`${CHANGE_COUNTER_CONSUMER}#${change.key}@${change.version}`);
    if (claim.status === "completed") return "duplicate";
    if (claim.status === "held") return "busy";
    await this.claims.complete(claim, [
      {
        Update: {
          TableName: this.tableName,
          Key: { pk: change.key },
          UpdateExpression: "ADD changes :one",
          ExpressionAttributeValues: { ":one": 1 },
        },
      },
    ]);
    return "counted";
  }

  read(key: string): Promise<number> {
    return readChangeCount(this.documents, this.tableName, key);
  }
}

export async function readChangeCount(
  documents: DynamoDBDocumentClient,
  tableName: string,
  key: string,
): Promise<number> {
  const { Item } = await documents.send(
    new GetCommand({ TableName: tableName, Key: { pk: key }, ConsistentRead: true }),
  );
  return (Item?.changes as number | undefined) ?? 0;
}
