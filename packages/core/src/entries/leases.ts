/**
 * @serverless-coordination/core/leases: Fenced leases: the rules (expiry, clock-skew bound, fencing
 * tokens) and the lease service of the sticky lookup (assign by consistent hashing, heartbeats, moves that
 * wait out the old lease, fenced state writes).
 */
export * from "../leases/rules.ts";
export * from "../leases/service.ts";
export * from "../mesh/slot-store.ts";
