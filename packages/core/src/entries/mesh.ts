/**
 * @serverless-coordination/core/mesh: Mesh: full mesh, random and deterministic subsetting, slot
 * subsetting (balanced, low churn), rendezvous hashing, and the slot store of live servers. Pure except
 * the slot store.
 */
export * from "../mesh/balanced.ts";
export * from "../mesh/churn.ts";
export * from "../mesh/hashing.ts";
export * from "../mesh/random.ts";
export * from "../mesh/subsetting.ts";
