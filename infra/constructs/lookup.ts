import { LEASES_BY_SERVER_INDEX } from "@serverless-coordination/core/leases";
import { type CfnElement, CfnOutput, Stack, Validations } from "aws-cdk-lib";
import { AttributeType, BillingMode, ProjectionType, Table } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
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
 * The sticky lookup service's state: LeaseTable (a session's lease, fencing token and state; an index of
 * the leases by server) and ServerTable (each live server's registration, expiring by TTL). The lease
 * duration and the clock-skew bound come from CDK context `leaseDurationMs` and `maxClockSkewMs`.
 */
export class Lookup extends Construct {
  readonly leaseTable: Table;
  readonly serverTable: Table;
  readonly leaseDurationMs: number;
  readonly maxClockSkewMs: number;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.leaseDurationMs = contextMs(this, "leaseDurationMs", 10_000, 100);
    this.maxClockSkewMs = contextMs(this, "maxClockSkewMs", 1000, 0);
    if (this.maxClockSkewMs * 2 >= this.leaseDurationMs)
      throw new Error("maxClockSkewMs must be less than half of leaseDurationMs");

    const common = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: statefulRemovalPolicy(scope),
    };
    // Lease items are never deleted: a session's fencing token must never start again from 1.
    this.leaseTable = new Table(this, "LeaseTable", {
      ...common,
      partitionKey: { name: "sessionId", type: AttributeType.STRING },
    });
    this.leaseTable.addGlobalSecondaryIndex({
      indexName: LEASES_BY_SERVER_INDEX,
      partitionKey: { name: "serverId", type: AttributeType.STRING },
      // Keys only: a heartbeat learns which sessions to read from it, then reads each lease strongly
      // consistently (the index lags), so projecting the state (up to 64 KB a lease) would only cost.
      projectionType: ProjectionType.KEYS_ONLY,
    });
    this.serverTable = new Table(this, "ServerTable", {
      ...common,
      partitionKey: { name: "serverId", type: AttributeType.STRING },
      timeToLiveAttribute: "ttl",
    });
    new CfnOutput(scope, "LeaseTableName", { value: this.leaseTable.tableName });
    new CfnOutput(scope, "ServerTableName", { value: this.serverTable.tableName });
  }

  bind(fn: AppFunction): void {
    fn.bindTableReadWrite(this.leaseTable, "LEASE_TABLE");
    const leaseTableId = Stack.of(this).getLogicalId(this.leaseTable.node.defaultChild as CfnElement);
    Validations.of(fn.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${leaseTableId}.Arn>/index/*]`,
      reason: "Queries the lease table's byServer index; the grant covers that table's indexes only.",
    });
    fn.bindTableReadWrite(this.serverTable, "SERVER_TABLE");
    fn.addEnvironment("LEASE_DURATION_MS", String(this.leaseDurationMs));
    fn.addEnvironment("MAX_CLOCK_SKEW_MS", String(this.maxClockSkewMs));
  }
}
