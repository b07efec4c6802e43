/**
 * @serverless-coordination/core/replication: Replication: the replica store (versioned writes, conditional
 * on lastUpdate, with the outbox record in one transaction), the coordinator of `all` and `primary` writes
 * and repairing reads, the Replicator (ChangesQueue → every follower), versions, the per-key change counter, and the replica contract.
 */
export * from "../contracts/replica.ts";
export * from "../replication/change-counter.ts";
export * from "../replication/coordinator.ts";
export * from "../replication/replica-handler.ts";
export * from "../replication/replica-store.ts";
export * from "../replication/replicator.ts";
export * from "../replication/replicator-handler.ts";
export * from "../version.ts";
