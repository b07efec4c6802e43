/**
 * The contract of a replica function, written once: every request the Api and the Replicator send it over
 * Lambda Invoke (Paxos `prepare` and `accept`, key-value `commit`, `apply` and `read`) and every reply it
 * gives, as zod schemas. The replica parses each request with them, the callers parse each reply with
 * them, and the TypeScript types on both sides are inferred from them.
 */
import { z } from "zod";
import { VERSION_PATTERN } from "../version.ts";

/** `<15-digit time>:<proposer id>:<round>`, compared as strings. */
const ballot = z.string().regex(/^\d{15}:.+$/);
/** A replica stores any key it is sent; the API's stricter key rules are checked at the edge. */
const key = z.string().min(1);
const version = z.string().regex(VERSION_PATTERN);

// --- Paxos (CASPaxos registers) -------------------------------------------------------------------

export const registerStateSchema = z.object({
  /** Starts at 1 and grows by one per accepted change. */
  version: z.number().int().positive(),
  value: z.unknown(),
  /** The request that wrote this version: makes a retried change idempotent and tells who won. */
  origin: z.string(),
  /**
   * The writes that led to this state, newest last (this one included), at most REGISTER_HISTORY: lets a
   * writer whose earlier attempt may have taken effect find out whether it did.
   */
  recent: z.array(z.object({ version: z.number().int().positive(), origin: z.string() })).optional(),
  /** Set on a write-once key's state (POST); a key keeps the kind of its first chosen state. */
  writeOnce: z.literal(true).optional(),
});

export const prepareRequestSchema = z.object({ op: z.literal("prepare"), key, ballot });
export const acceptRequestSchema = z.object({
  op: z.literal("accept"),
  key,
  ballot,
  state: registerStateSchema,
  /** The promise to record along with the accept; the ballot itself when absent. */
  promise: ballot.optional(),
  /**
   * A prepare in the same message, for when the accept is rejected: unless a write is under way at the
   * acceptor, it promises the ballot just above its promise (for this ballot's proposer) and answers
   * what it accepted, so a proposer whose warm state was stale goes straight to phase 2.
   */
  fallback: z.literal(true).optional(),
});

const acceptedSchema = z.object({ ballot, state: registerStateSchema });
/**
 * A rejection answers the conflicting ballot (the higher of the promise and the accepted ballot) and the
 * ballot the acceptor has accepted: when a majority already accepted above an attempt's ballot, no later
 * round can adopt that attempt.
 */
const rejectionSchema = z.object({ ok: z.literal(false), conflict: z.string(), acceptedBallot: z.string() });
export const prepareReplySchema = z.union([
  z.object({ ok: z.literal(true), accepted: acceptedSchema.optional() }),
  rejectionSchema,
]);
export const acceptReplySchema = z.union([
  z.object({ ok: z.literal(true) }),
  rejectionSchema.extend({
    /** The fallback the acceptor promised (see the request's `fallback`) and what it had accepted. */
    fallback: z.object({ ballot, accepted: acceptedSchema.optional() }).optional(),
  }),
]);

// --- The replicated key-value store ----------------------------------------------------------------

export const storedValueSchema = z.object({ key, version, value: z.unknown() });
export const commitRequestSchema = z.object({
  op: z.literal("commit"),
  /** The write's id: its outbox record id, so a retried request finds its own commit. */
  writeId: z.string().min(1).max(128),
  key,
  value: z.unknown(),
});
export const applyRequestSchema = z.object({ op: z.literal("apply"), key, version, value: z.unknown() });
export const applyReplySchema = z.object({
  result: z.enum(["applied", "duplicate", "stale"]),
  /** The replica's version of the key after the call. */
  version,
});
export const readRequestSchema = z.object({ op: z.literal("read"), key });
/** Several changes in one invocation (the Replicator's batch): each is still its own conditional write. */
export const applyBatchRequestSchema = z.object({
  op: z.literal("applyBatch"),
  changes: z
    .array(z.object({ key, version, value: z.unknown() }))
    .min(1)
    .max(100),
});
/**
 * One result per change, in the request's order: the apply's reply, or the error that kept it from being
 * written (and then every later change of its key in the batch is not tried: `skipped`).
 */
export const applyBatchReplySchema = z.object({
  results: z.array(z.union([applyReplySchema, z.object({ error: z.string() })])),
});

export const replicaRequestSchema = z.discriminatedUnion("op", [
  prepareRequestSchema,
  acceptRequestSchema,
  commitRequestSchema,
  applyRequestSchema,
  applyBatchRequestSchema,
  readRequestSchema,
]);

/** The reply schema of each operation. */
export const replicaReplySchemas = {
  prepare: prepareReplySchema,
  accept: acceptReplySchema,
  commit: storedValueSchema,
  apply: applyReplySchema,
  applyBatch: applyBatchReplySchema,
  read: storedValueSchema.nullable(),
} as const;

export type RegisterState = z.infer<typeof registerStateSchema>;
export type PrepareRequest = z.infer<typeof prepareRequestSchema>;
export type AcceptRequest = z.infer<typeof acceptRequestSchema>;
export type PrepareReply = z.infer<typeof prepareReplySchema>;
export type AcceptReply = z.infer<typeof acceptReplySchema>;
export type Rejection = z.infer<typeof rejectionSchema>;
export type Accepted = z.infer<typeof acceptedSchema>;
export type StoredValue = z.infer<typeof storedValueSchema>;
export type CommitRequest = z.infer<typeof commitRequestSchema>;
export type ApplyRequest = z.infer<typeof applyRequestSchema>;
export type ApplyReply = z.infer<typeof applyReplySchema>;
export type ApplyResult = ApplyReply["result"];
export type ApplyBatchRequest = z.infer<typeof applyBatchRequestSchema>;
export type ApplyBatchReply = z.infer<typeof applyBatchReplySchema>;
export type ReadRequest = z.infer<typeof readRequestSchema>;
export type ReplicaRequest = z.infer<typeof replicaRequestSchema>;
export type ReplicaOp = ReplicaRequest["op"];
export type ReplicaReply<Op extends ReplicaOp> = z.infer<(typeof replicaReplySchemas)[Op]>;
/** The reply to a request, by its `op`. */
export type ReplyTo<R extends ReplicaRequest> = ReplicaReply<R["op"]>;

/**
 * Calls replicas by id (the first being the primary); rejects when a replica fails, times out, or answers
 * something the contract does not allow.
 */
export interface ReplicaInvoker {
  readonly replicaIds: readonly string[];
  invoke<R extends ReplicaRequest>(replicaId: string, request: R, timeoutMs?: number): Promise<ReplyTo<R>>;
}

/** Parses a replica's reply to `request` by the contract; throws a clear error when it breaks it. */
export function parseReply<R extends ReplicaRequest>(
  replicaId: string,
  request: R,
  reply: unknown,
): ReplyTo<R> {
  const result = replicaReplySchemas[request.op].safeParse(reply);
  if (!result.success)
    throw new Error(
      `replica ${replicaId} broke the contract of ${request.op}: ${z.prettifyError(result.error)}`,
    );
  return result.data as ReplyTo<R>;
}
