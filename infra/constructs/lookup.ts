import { LeaseLookup } from "@serverless-coordination/cdk";
import { CfnOutput, Duration } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { statefulRemovalPolicy } from "../context.ts";
import type { AppFunction } from "./app-function.ts";

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

/**
 * The sticky lookup service's state: the cdk package's LeaseLookup (LeaseTable with its index of the
 * leases by server, ServerTable expiring by TTL), its lease duration and clock-skew bound from CDK context
 * `leaseDurationMs` and `maxClockSkewMs`, and the tables' names as stack outputs.
 */
export class Lookup extends LeaseLookup {
  readonly leaseDurationMs: number;
  readonly maxClockSkewMs: number;

  constructor(scope: Construct, id: string) {
    const leaseDurationMs = contextMs(scope, "leaseDurationMs", 10_000, 100);
    const maxClockSkewMs = contextMs(scope, "maxClockSkewMs", 1000, 0);
    if (maxClockSkewMs * 2 >= leaseDurationMs)
      throw new Error("maxClockSkewMs must be less than half of leaseDurationMs");
    super(scope, id, {
      leaseDuration: Duration.millis(leaseDurationMs),
      maxClockSkew: Duration.millis(maxClockSkewMs),
      removalPolicy: statefulRemovalPolicy(scope),
    });
    this.leaseDurationMs = leaseDurationMs;
    this.maxClockSkewMs = maxClockSkewMs;
    new CfnOutput(scope, "LeaseTableName", { value: this.leaseTable.tableName });
    new CfnOutput(scope, "ServerTableName", { value: this.serverTable.tableName });
  }

  bind(fn: AppFunction): void {
    this.grantLookup(fn);
  }
}
