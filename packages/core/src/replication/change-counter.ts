/**
 * The per-key change counter: a consumer of ChangesQueue counts each change once, however often and in
 * whatever order the queue delivers it. An increment is the classic effect that is not idempotent, so
 * the count goes through a claim on the change (key and version identify it) and commits with the
 * claim's completion in one transaction. A batch's changes are claimed at once and counted together.
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
    return (await this.countAll([change]))[0]!;
  }

  /**
   * Counts a batch of changes, answering in their order: each claimed by a write of its own, all at
   * once, and the fresh ones completed in one transaction together with the counters' increments (one per key, by how many of its changes
   * it counts), so each change is counted exactly once as with `count`. A change repeated in the batch
   * is a duplicate of its first occurrence; one whose claim went stale before completion is `busy` (the
   * worker that took it over counts it).
   */
  async countAll(changes: ChangeMessage[]): Promise<CountResult[]> {
    const idOf = (change: ChangeMessage) => `${CHANGE_COUNTER_CONSUMER}#${change.key}@${change.version}`;
    const byId = new Map<string, ChangeMessage>();
    for (const change of changes) if (!byId.has(idOf(change))) byId.set(idOf(change), change);
    const ids = [...byId.keys()];
    const claims = await this.claims.claimAll(ids);
    const outcome = new Map<string, CountResult>();
    const mine: Array<{ id: string; token: string }> = [];
    claims.forEach((claim) => {
      if (claim.status === "claimed") mine.push(claim);
      else outcome.set(claim.id, claim.status === "completed" ? "duplicate" : "busy");
    });
    if (mine.length > 0) {
      const { stale } = await this.claims.completeAll(mine, (live) => {
        const perKey = new Map<string, number>();
        for (const claim of live) {
          const key = byId.get(claim.id)!.key;
          perKey.set(key, (perKey.get(key) ?? 0) + 1);
        }
        return [...perKey].map(([key, count]) => ({
          Update: {
            TableName: this.tableName,
            Key: { pk: key },
            UpdateExpression: "ADD changes :count",
            ExpressionAttributeValues: { ":count": count },
          },
        }));
      });
      for (const claim of mine) outcome.set(claim.id, stale.includes(claim.id) ? "busy" : "counted");
    }
    const answered = new Set<string>();
    return changes.map((change) => {
      const id = idOf(change);
      if (answered.has(id)) return "duplicate";
      answered.add(id);
      return outcome.get(id)!;
    });
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
