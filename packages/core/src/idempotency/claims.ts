/**
 * Claims for effects that are not naturally conditional (an increment, an e-mail, a call to another
 * system): before the effect, a worker claims the (consumer, message) pair with a fresh owner token and
 * an expiry, by one conditional write. Completion and release are conditioned on that owner token, so a
 * stale worker, whose claim expired and was taken over, can neither mark the work done nor delete the
 * newer claim: it learns it lost (StaleClaim) and must not report success.
 *
 * When the effect is itself a DynamoDB write (the change counter), `complete` commits it in the same
 * transaction as the completion: the effect happens exactly once. For effects elsewhere, a claim makes
 * them happen at most once per claim lifetime; a crash between the effect and `complete` repeats the
 * effect after the claim expires, the unavoidable window of any external side effect.
 *
 * A consumer that handles a batch claims it id by id, all at once (`claimAll`: a conditional write each,
 * since a transactional write costs twice the capacity of a plain one on AWS and no claim needs another),
 * and completes it together (`completeAll`: one transaction, which also carries the effects that are
 * DynamoDB writes). Every claim keeps its own condition, so the guarantees are the single claim's.
 *
 * Expiry and the clock: a claim records its expiry by the claimer's clock; another worker takes it over
 * only when its own clock is past that expiry plus `maxSkewMs`, so clocks that disagree by less than the
 * bound never let two workers hold a claim at once.
 */
import { randomUUID } from "node:crypto";
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite, type TransactAction, transact } from "../dynamodb/transactions.ts";

export interface ClaimOptions {
  /** How long a claim protects the work before another worker may take it over. */
  leaseMs: number;
  maxSkewMs?: number;
  /** How long a completed claim is remembered (TTL), i.e. the window in which duplicates are caught. */
  retentionSeconds?: number;
  now?: () => number;
  /** How to wait between retries of a conflicting completion (a simulation passes its virtual time). */
  sleep?: (ms: number) => Promise<void>;
  /** The jitter of those retries (a simulation passes its seeded source). */
  random?: () => number;
  /** Told when a claim is taken over from a worker whose claim expired (a metric). */
  onTakeover?: (id: string) => void;
}

export type ClaimResult =
  | { status: "claimed"; id: string; token: string; expiresAt: number }
  /** The work was done before: skip it. */
  | { status: "completed"; id: string }
  /** Another worker holds a live claim: retry later. */
  | { status: "held"; id: string; expiresAt: number };

export class StaleClaim extends Error {
  readonly id: string;

  constructor(id: string) {
    super(`the claim on ${id} is no longer ours: it expired and was taken over, or completed`);
    this.id = id;
    this.name = "StaleClaim";
  }
}

interface ClaimItem {
  pk: string;
  status: "IN_PROGRESS" | "COMPLETED";
  owner: string;
  expiresAt: number;
  ttl: number;
}

export class Claims {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  private readonly documents: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly options: ClaimOptions;

  constructor(documents: DynamoDBDocumentClient, tableName: string, options: ClaimOptions) {
    this.documents = documents;
    this.tableName = tableName;
    this.options = options;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async claim(id: string): Promise<ClaimResult> {
    const now = this.now();
    const token = randomUUID();
    const expiresAt = now + this.options.leaseMs;
    const written = await conditionalWrite<ClaimItem>(
      this.documents,
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: id,
          status: "IN_PROGRESS",
          owner: token,
          expiresAt,
          ttl: Math.floor(now / 1000) + (this.options.retentionSeconds ?? 86_400),
        } satisfies ClaimItem,
        ConditionExpression:
          "attribute_not_exists(pk) OR (#status = :inProgress AND expiresAt < :expiredBefore)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":inProgress": "IN_PROGRESS",
          ":expiredBefore": now - (this.options.maxSkewMs ?? 0),
        },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        ReturnValues: "ALL_OLD",
      }),
    );
    if (written.ok) {
      // An item was there and the condition let us replace it: its claim had expired.
      const previous = written.attributes as ClaimItem | undefined;
      if (previous && previous.owner !== token) this.options.onTakeover?.(id);
      return { status: "claimed", id, token, expiresAt };
    }
    const held = written.old;
    if (!held) throw new Error(`the claim on ${id} failed its condition but DynamoDB answered no item`);
    if (held.status === "COMPLETED") return { status: "completed", id };
    // Our own token: the SDK retried this very request after its first attempt landed. It is ours.
    if (held.owner === token) return { status: "claimed", id, token, expiresAt: held.expiresAt };
    return { status: "held", id, expiresAt: held.expiresAt };
  }

  /**
   * Claims several ids, answering in their order: each through `claim`, all at once. Not one transaction:
   * a transactional write costs twice the write units of a plain one (on-demand tables bill units, not
   * requests), and no claim needs the others' (measured by `npm run bench -- cost`). Ids must be distinct.
   */
  async claimAll(ids: string[]): Promise<ClaimResult[]> {
    if (new Set(ids).size !== ids.length) throw new Error("claimAll: the ids must be distinct");
    return Promise.all(ids.map((id) => this.claim(id)));
  }

  /**
   * Completes several claims in one transaction, with the effects `effects` makes for the claims still in
   * it (a claim found stale leaves the transaction, and so do its effects; the rest is sent again).
   * Answers the ids whose claims were stale: their work is another worker's now, and this one must not
   * report it done. Like `complete`, an owner's retry of the same completion applies nothing again.
   */
  async completeAll(
    claims: Array<{ id: string; token: string }>,
    effects: (live: Array<{ id: string; token: string }>) => TransactAction[] = () => [],
  ): Promise<{ stale: string[] }> {
    const stale: string[] = [];
    let live = claims;
    for (let attempt = 0; live.length > 0; attempt++) {
      const writes = effects(live);
      const result = await transact(
        this.documents,
        [...writes, ...live.map((claim) => this.completion(claim))],
        live.map((claim) => `${claim.id}:${claim.token}`).join("|"),
      );
      if (result.ok) break;
      const staleIndexes = new Set(
        result.failedConditions
          .filter((index) => index >= writes.length)
          .map((index) => index - writes.length),
      );
      // Stale claims leave first, with their effects: what is left is sent again.
      if (staleIndexes.size > 0) {
        stale.push(...live.filter((_, index) => staleIndexes.has(index)).map((claim) => claim.id));
        live = live.filter((_, index) => !staleIndexes.has(index));
        continue;
      }
      const ids = live.map((claim) => claim.id).join(", ");
      if (result.failedConditions.length > 0)
        throw new Error(`an effect's condition failed while completing ${ids}`);
      // A conflicting transaction cancels ours without applying anything: send it again, or the claims
      // would stay IN_PROGRESS (the work "busy") until they expire.
      if (attempt >= 5) throw new Error(`transactions kept conflicting while completing ${ids}`);
      await this.sleep(5 * 2 ** attempt * (this.options.random ?? Math.random)());
    }
    return { stale };
  }

  private completion(claim: { id: string; token: string }): TransactAction {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: claim.id },
        // Nothing in it depends on when it is sent: an owner's retry of the completion carries the same
        // parameters under the same token, which DynamoDB answers as done (a timestamp here made it
        // IdempotentParameterMismatch).
        UpdateExpression: "SET #status = :completed",
        ConditionExpression: "#owner = :token AND #status = :inProgress",
        ExpressionAttributeNames: { "#status": "status", "#owner": "owner" },
        ExpressionAttributeValues: {
          ":completed": "COMPLETED",
          ":inProgress": "IN_PROGRESS",
          ":token": claim.token,
        },
      },
    };
  }

  /**
   * Marks the claimed work done, together with `effects` (DynamoDB writes) in one transaction. Throws
   * StaleClaim, and writes nothing, when the claim is no longer this owner's. The owner's retry of the
   * same completion (within DynamoDB's 10-minute token window) is answered as done and applies nothing.
   */
  async complete(claim: { id: string; token: string }, effects: TransactAction[] = []): Promise<void> {
    const { stale } = await this.completeAll([claim], () => effects);
    if (stale.length > 0) throw new StaleClaim(claim.id);
  }

  /** Gives the claim up (the work failed and may be retried at once); a stale owner gets StaleClaim. */
  async release(claim: { id: string; token: string }): Promise<void> {
    const released = await conditionalWrite(
      this.documents,
      new DeleteCommand({
        TableName: this.tableName,
        Key: { pk: claim.id },
        ConditionExpression: "#owner = :token AND #status = :inProgress",
        ExpressionAttributeNames: { "#status": "status", "#owner": "owner" },
        ExpressionAttributeValues: { ":token": claim.token, ":inProgress": "IN_PROGRESS" },
      }),
    );
    if (!released.ok) throw new StaleClaim(claim.id);
  }
}
