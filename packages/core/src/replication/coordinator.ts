/**
 * The replication coordinator (in the Api function): the writer of the replicated key-value store.
 *
 * - `all`: the primary commits the write with its outbox record (assigning the version), then every other
 *   replica applies it in parallel; the answer waits for all of them. Slower, and unavailable while any
 *   replica is down (503 ReplicaUnavailable naming it; the write stays committed on the primary and the
 *   queue brings the missing replica up to date once it is back).
 * - `primary`: the primary commits the write with its outbox record and the answer goes back at once;
 *   the other replicas catch up through ChangesQueue. Faster, but a read from another replica may be
 *   stale until then.
 * Either way the write yields exactly one outbox record, hence one message on ChangesQueue.
 */
import { randomUUID } from "node:crypto";
import type { ReplicaInvoker, ReplicaRequest, ReplyTo, StoredValue } from "../contracts/replica.ts";
import { fail } from "../errors.ts";

export type Consistency = "all" | "primary";

export type { ReplicaInvoker };

export interface PutResult {
  key: string;
  version: string;
  consistency: Consistency;
  acks: string[];
}

export class ReplicationCoordinator {
  private readonly replicas: ReplicaInvoker;
  /** How long a replica has to answer a write or read (a commit is a read and a transaction). */
  private readonly callTimeoutMs?: number;

  constructor(replicas: ReplicaInvoker, callTimeoutMs?: number) {
    this.replicas = replicas;
    this.callTimeoutMs = callTimeoutMs;
  }

  private call<R extends ReplicaRequest>(replicaId: string, request: R): Promise<ReplyTo<R>> {
    return this.replicas.invoke(replicaId, request, this.callTimeoutMs);
  }

  get primary(): string {
    return this.replicas.replicaIds[0]!;
  }

  async put(
    key: string,
    value: unknown,
    consistency: Consistency,
    writeId: string = randomUUID(),
  ): Promise<PutResult> {
    let committed: StoredValue;
    try {
      committed = await this.call(this.primary, {
        op: "commit" as const,
        writeId,
        key,
        value,
      });
    } catch {
      throw fail(
        "ReplicaUnavailable",
        `the primary ${this.primary} did not confirm the write; it may or may not have been committed`,
        { key, missing: [this.primary] },
      );
    }
    const acks = [this.primary];
    if (consistency === "primary") return { key, version: committed.version, consistency, acks };

    const others = this.replicas.replicaIds.slice(1);
    const applied = await Promise.allSettled(
      others.map((id) => this.call(id, { op: "apply" as const, ...committed })),
    );
    const missing = others.filter((_, index) => applied[index]!.status === "rejected");
    acks.push(...others.filter((_, index) => applied[index]!.status === "fulfilled"));
    if (missing.length > 0) {
      throw fail(
        "ReplicaUnavailable",
        `${missing.join(", ")} did not apply version ${committed.version}; the write is committed on the primary and reaches them through the queue`,
        { key, version: committed.version, acks, missing },
      );
    }
    return { key, version: committed.version, consistency, acks };
  }

  /** From the primary, or from one replica (which may be stale). */
  async read(key: string, replicaId = this.primary): Promise<StoredValue & { replica: string }> {
    if (!this.replicas.replicaIds.includes(replicaId))
      throw fail(
        "InvalidReplica",
        `no replica ${replicaId}; replicas: ${this.replicas.replicaIds.join(", ")}`,
      );
    let stored: StoredValue | null;
    try {
      stored = await this.call(replicaId, { op: "read" as const, key });
    } catch {
      throw fail("ReplicaUnavailable", `${replicaId} did not answer`, { key, missing: [replicaId] });
    }
    if (!stored) throw fail("KeyNotFound", `${key} is not on ${replicaId}`, { key, replica: replicaId });
    return { ...stored, replica: replicaId };
  }

  /** Reads every replica, answers the newest version and repairs the replicas that are behind. */
  async readAll(key: string): Promise<StoredValue & { repaired: string[] }> {
    const ids = this.replicas.replicaIds;
    const reads = await Promise.allSettled(ids.map((id) => this.call(id, { op: "read" as const, key })));
    const missing = ids.filter((_, index) => reads[index]!.status === "rejected");
    if (missing.length > 0)
      throw fail("ReplicaUnavailable", `${missing.join(", ")} did not answer`, { key, missing });
    const values = reads.map((read) => (read as PromiseFulfilledResult<StoredValue | null>).value);
    const newest = values.reduce<StoredValue | null>(
      (best, value) => (value && (!best || value.version > best.version) ? value : best),
      null,
    );
    if (!newest) throw fail("KeyNotFound", `${key} was never written`, { key });
    const stale = ids.filter((_, index) => values[index]?.version !== newest.version);
    const repairs = await Promise.allSettled(
      stale.map((id) => this.call(id, { op: "apply" as const, ...newest })),
    );
    // A repair that fails is left to the queue, which delivers the same change.
    return { ...newest, repaired: stale.filter((_, index) => repairs[index]!.status === "fulfilled") };
  }
}
