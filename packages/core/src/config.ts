/** Configuration read from the function's environment, validated once at start-up. */
import { z } from "zod";

const list = z
  .string()
  .min(1)
  .transform((value) => value.split(",").filter(Boolean));

const replicas = {
  /** Replica ids in order, the first being the primary, and their function names in the same order. */
  REPLICA_IDS: list,
  REPLICA_FUNCTIONS: list,
  /** A Paxos round's per-replica timeout: short, a majority suffices. */
  REPLICA_CALL_TIMEOUT_MS: z.coerce.number().int().positive().default(2500),
  /** A replication call's timeout: every replica it waits for must answer. */
  REPLICATION_CALL_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
};

export const replicaConfig = () =>
  z
    .object({
      REPLICA_TABLE: z.string().min(1),
      REPLICA_ID: z.string().min(1),
      /** Only the primary has the outbox table. */
      OUTBOX_TABLE: z.string().min(1).optional(),
    })
    .parse(process.env);

export const apiConfig = () =>
  z
    .object({
      ...replicas,
      PAXOS_MAX_ROUNDS: z.coerce.number().int().positive().default(20),
      CHANGE_COUNTER_TABLE: z.string().min(1),
      IDEMPOTENCY_TABLE: z.string().min(1),
      LEASE_TABLE: z.string().min(1),
      SERVER_TABLE: z.string().min(1),
      LEASE_DURATION_MS: z.coerce.number().int().positive().default(10_000),
      MAX_CLOCK_SKEW_MS: z.coerce.number().int().min(0).default(1000),
      /** The longest a move waits inside the Api before answering 409 LeaseHeld with retryAfterMs. */
      MOVE_WAIT_MS: z.coerce.number().int().min(0).default(2000),
    })
    .parse(process.env);

export const relayConfig = () =>
  z.object({ CHANGES_QUEUE_URL: z.string().min(1), QUARANTINE_TABLE: z.string().min(1) }).parse(process.env);

export const outboxReplayConfig = () =>
  z
    .object({
      CHANGES_QUEUE_URL: z.string().min(1),
      QUARANTINE_TABLE: z.string().min(1),
      RELAY_FAILURES_QUEUE_URL: z.string().min(1),
      OUTBOX_TABLE: z.string().min(1),
    })
    .parse(process.env);

export const replicatorConfig = () =>
  z
    .object({
      ...replicas,
      CHANGES_QUEUE_URL: z.string().min(1),
      CLAIM_TABLE: z.string().min(1),
      CHANGE_COUNTER_TABLE: z.string().min(1),
      CLAIM_LEASE_MS: z.coerce.number().int().positive().default(30_000),
      MAX_CLOCK_SKEW_MS: z.coerce.number().int().min(0).default(1000),
    })
    .parse(process.env);
