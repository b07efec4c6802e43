/**
 * The per-key change counter: a consumer of ChangesQueue counts each change once, however often and in
 * whatever order the queue delivers it. An increment is the classic effect that is not idempotent, so
 * the count goes through a claim on the change (key and version identify it) and commits with the
 * claim's completion in one transaction.
 */
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { Claims } from "../idempotency/claims.ts";
import type { ChangeMessage } from "../outbox/outbox.ts";

export type CountResult = "counted" | "duplicate" | "busy";

export const CHANGE_COUNTER_CONSUMER = "change-counter";

export class ChangeCounter {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly claims: Claims,
  ) {}

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
