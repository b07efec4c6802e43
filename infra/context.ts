/**
 * CDK context the stack reads (`cdk deploy -c name=value`, or cdk.json), checked once here.
 *
 * - `ephemeral` (default false): a throwaway dev stack. Every stateful table is retained when the stack
 *   is deleted unless this is true: acceptor tables (deleting promises breaks Paxos safety), the lease
 *   table (fencing tokens must never start again from 1), the primary replica and the outbox, the claims
 *   and counters, the idempotency keys and the quarantine.
 * - `auth` (default `iam`): every route but /health requires IAM authorization (SigV4-signed requests);
 *   `none` leaves every route open.
 * - `apiRateLimit` / `apiBurstLimit` (default 100 / 200): the HTTP API stage's throttling, requests per
 *   second and burst.
 * - `apiConcurrency` (default 20): reserved concurrency of the Api function, which bounds what a flood of
 *   requests can run up in DynamoDB and Lambda cost; 0 leaves it unreserved (needed on new accounts whose
 *   whole concurrency quota is 10).
 */
import { RemovalPolicy } from "aws-cdk-lib";
import type { Construct } from "constructs";

function flag(scope: Construct, name: string): boolean {
  const raw = scope.node.tryGetContext(name);
  if (raw === undefined) return false;
  if (raw === true || raw === "true") return true;
  if (raw === false || raw === "false") return false;
  throw new Error(`context "${name}" must be true or false, got ${JSON.stringify(raw)}`);
}

export function contextInteger(scope: Construct, name: string, fallback: number, min: number): number {
  const raw = scope.node.tryGetContext(name) ?? fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`context "${name}" must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

/** How a stateful table is removed with the stack: retained, unless the stack is `ephemeral`. */
export function statefulRemovalPolicy(scope: Construct): RemovalPolicy {
  return flag(scope, "ephemeral") ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
}

/** The HTTP API's authorization: `iam` (SigV4, the default) or `none`. */
export function authMode(scope: Construct): "iam" | "none" {
  const raw = scope.node.tryGetContext("auth") ?? "iam";
  if (raw !== "iam" && raw !== "none")
    throw new Error(`context "auth" must be "iam" or "none", got ${JSON.stringify(raw)}`);
  return raw;
}

/** The `replicas` context: an odd count from 3 to 7 (a majority must survive a failure). */
export function replicaCount(scope: Construct): number {
  const raw = scope.node.tryGetContext("replicas") ?? 3;
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 3 || count > 7 || count % 2 === 0) {
    throw new Error(`context "replicas" must be an odd number from 3 to 7, got ${JSON.stringify(raw)}`);
  }
  return count;
}

/** Reads a positive integer of milliseconds from CDK context. */
function contextMs(scope: Construct, name: string, fallback: number, min: number): number {
  const raw = scope.node.tryGetContext(name) ?? fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(
      `context "${name}" must be an integer of milliseconds ≥ ${min}, got ${JSON.stringify(raw)}`,
    );
  return value;
}

/** The lookup service's `leaseDurationMs` and `maxClockSkewMs` (the skew under half the lease). */
export function leaseSettings(scope: Construct): { leaseDurationMs: number; maxClockSkewMs: number } {
  const leaseDurationMs = contextMs(scope, "leaseDurationMs", 10_000, 100);
  const maxClockSkewMs = contextMs(scope, "maxClockSkewMs", 1000, 0);
  if (maxClockSkewMs * 2 >= leaseDurationMs)
    throw new Error("maxClockSkewMs must be less than half of leaseDurationMs");
  return { leaseDurationMs, maxClockSkewMs };
}
