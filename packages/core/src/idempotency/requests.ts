/**
 * Idempotent HTTP requests (the IETF HTTPAPI draft "The Idempotency-Key HTTP Header Field"): a client
 * sends a unique key with a write; the first request with it runs, and a retry with the same key and the
 * same request gets the first request's answer without a second effect. The same key with a different
 * request answers 422; a retry while the first is still running answers 409. Keys are kept for
 * `retentionSeconds` (24 hours by default, by TTL).
 *
 * One record per (route, key), taken by one conditional write with an owner token, like a claim: the
 * request's lease lasts as long as the function may run, so a request whose function died is run again
 * after it. Final answers (2xx, 4xx) are stored; after a 5xx the record is given up, so a retry runs
 * again — safe, because the domain ids of the write (the outbox record id, the register write's origin)
 * are derived from the key, so a change that did land is found instead of applied twice.
 */
import { createHash, randomUUID } from "node:crypto";
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite } from "../dynamodb/transactions.ts";

export interface StoredResponse {
  statusCode: number;
  body: string;
}

export type BeginResult =
  /** `rerun`: an earlier run of this request held the key and died (or may have): it may have acted. */
  | { status: "new"; token: string; rerun: boolean }
  | { status: "replay"; response: StoredResponse }
  /** The key was used with another request. */
  | { status: "mismatch" }
  | { status: "in-progress"; retryAfterMs: number };

interface RequestItem {
  pk: string;
  status: "IN_PROGRESS" | "COMPLETED";
  fingerprint: string;
  owner: string;
  leaseExpiresAt: number;
  response?: StoredResponse;
  ttl: number;
}

export interface IdempotentRequestsOptions {
  /** How long a running request holds its key: at least the function's timeout. */
  inProgressMs: number;
  retentionSeconds?: number;
  now?: () => number;
}

/** The SHA-256 of a request's parts: what "the same request" means. */
export const fingerprint = (...parts: string[]) =>
  createHash("sha256").update(parts.join("\u0000")).digest("hex");

export class IdempotentRequests {
  private readonly now: () => number;

  private readonly documents: Pick<DynamoDBDocumentClient, "send">;
  private readonly tableName: string;
  private readonly options: IdempotentRequestsOptions;

  constructor(
    documents: Pick<DynamoDBDocumentClient, "send">,
    tableName: string,
    options: IdempotentRequestsOptions,
  ) {
    this.documents = documents;
    this.tableName = tableName;
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  async begin(scopedKey: string, requestFingerprint: string): Promise<BeginResult> {
    const now = this.now();
    const token = randomUUID();
    const item: RequestItem = {
      pk: scopedKey,
      status: "IN_PROGRESS",
      fingerprint: requestFingerprint,
      owner: token,
      leaseExpiresAt: now + this.options.inProgressMs,
      ttl: Math.floor(now / 1000) + (this.options.retentionSeconds ?? 86_400),
    };
    const written = await conditionalWrite<RequestItem>(
      this.documents,
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        ConditionExpression:
          "attribute_not_exists(pk) OR (#status = :inProgress AND leaseExpiresAt < :now AND fingerprint = :fingerprint)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":inProgress": "IN_PROGRESS",
          ":now": now,
          ":fingerprint": requestFingerprint,
        },
        ReturnValues: "ALL_OLD",
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    // Taken over from a run whose lease ended: that run may have acted before it died.
    if (written.ok) return { status: "new", token, rerun: written.attributes !== undefined };
    const held = written.old;
    if (!held) return { status: "in-progress", retryAfterMs: 100 };
    if (held.fingerprint !== requestFingerprint) return { status: "mismatch" };
    // Our own token: the SDK retried this very request after its first attempt landed (which may itself
    // have taken the key over: counted as a re-run, the safe side).
    if (held.owner === token) return { status: "new", token, rerun: true };
    if (held.status === "COMPLETED" && held.response) return { status: "replay", response: held.response };
    return { status: "in-progress", retryAfterMs: Math.max(1, held.leaseExpiresAt - now) };
  }

  /** Stores the final answer; a request whose lease was taken over stores nothing. */
  async complete(scopedKey: string, token: string, response: StoredResponse): Promise<void> {
    await conditionalWrite(
      this.documents,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: scopedKey },
        UpdateExpression: "SET #status = :completed, #response = :response",
        ConditionExpression: "#owner = :token",
        ExpressionAttributeNames: { "#status": "status", "#response": "response", "#owner": "owner" },
        ExpressionAttributeValues: { ":completed": "COMPLETED", ":response": response, ":token": token },
      }),
    );
  }

  /** Gives the key up (the outcome was not final): a retry runs the request again. */
  async abandon(scopedKey: string, token: string): Promise<void> {
    await conditionalWrite(
      this.documents,
      new DeleteCommand({
        TableName: this.tableName,
        Key: { pk: scopedKey },
        ConditionExpression: "#owner = :token AND #status = :inProgress",
        ExpressionAttributeNames: { "#owner": "owner", "#status": "status" },
        ExpressionAttributeValues: { ":token": token, ":inProgress": "IN_PROGRESS" },
      }),
    );
  }
}
