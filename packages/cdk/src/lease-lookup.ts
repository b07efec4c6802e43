import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { AttributeType, BillingMode, ProjectionType, Table, type TableProps } from "aws-cdk-lib/aws-dynamodb";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";

/** The lease table's index of leases by server (core/leases' LEASES_BY_SERVER_INDEX: a test keeps them equal). */
export const LEASES_BY_SERVER_INDEX = "byServer";

export interface LeaseLookupProps {
  /** How long a lease lives without a heartbeat (default 10 s; at least 100 ms). */
  readonly leaseDuration?: Duration;
  /** The bound on clock skew between writers (default 1 s; less than half the lease duration). */
  readonly maxClockSkew?: Duration;
  /** Tunes the lease table (sessions: their server, expiry, fencing token and state). */
  readonly leaseTableProps?: Partial<TableProps>;
  /** Tunes the server table (live servers, expiring by TTL). */
  readonly serverTableProps?: Partial<TableProps>;
  /** What happens to the tables when the stack is deleted (default RETAIN: fencing tokens must never restart). */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The state of a sticky lookup with fenced leases (LeaseService of @serverless-coordination/core/leases):
 * the lease table (never loses an item: a session's fencing token must never start again from 1) with an
 * index of the leases by server, and the server table of live servers. `grantLookup(fn)` gives a function
 * both tables and the lease settings, in LEASE_TABLE, SERVER_TABLE, LEASE_DURATION_MS, MAX_CLOCK_SKEW_MS.
 */
export class LeaseLookup extends Construct {
  readonly leaseTable: Table;
  readonly serverTable: Table;
  readonly leaseDuration: Duration;
  readonly maxClockSkew: Duration;

  constructor(scope: Construct, id: string, props: LeaseLookupProps = {}) {
    super(scope, id);
    const owner = `LeaseLookup ${this.node.path}`;
    this.leaseDuration = props.leaseDuration ?? Duration.seconds(10);
    this.maxClockSkew = props.maxClockSkew ?? Duration.seconds(1);
    if (this.leaseDuration.toMilliseconds() < 100)
      throw new Error(
        `${owner}: leaseDuration must be at least 100 ms, got ${this.leaseDuration.toMilliseconds()} ms`,
      );
    if (this.maxClockSkew.toMilliseconds() * 2 >= this.leaseDuration.toMilliseconds())
      throw new Error(`${owner}: maxClockSkew must be less than half of leaseDuration`);
    const common = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    };
    if (props.leaseTableProps?.timeToLiveAttribute)
      throw new Error(
        `${owner}: the lease table takes no TTL: an expired lease's fencing token must survive it`,
      );
    this.leaseTable = new Table(this, "LeaseTable", {
      ...common,
      partitionKey: { name: "sessionId", type: AttributeType.STRING },
      ...props.leaseTableProps,
    });
    this.leaseTable.addGlobalSecondaryIndex({
      indexName: LEASES_BY_SERVER_INDEX,
      partitionKey: { name: "serverId", type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    this.serverTable = new Table(this, "ServerTable", {
      ...common,
      partitionKey: { name: "serverId", type: AttributeType.STRING },
      timeToLiveAttribute: "ttl",
      ...props.serverTableProps,
    });
  }

  /** Lets `fn` run the lookup service: both tables (and the lease table's index), and the settings. */
  grantLookup(fn: LambdaFunction): void {
    this.leaseTable.grantReadWriteData(fn);
    const leaseTableId = Stack.of(this).getLogicalId(this.leaseTable.node.defaultChild as CfnElement);
    Validations.of(fn.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${leaseTableId}.Arn>/index/*]`,
      reason: "Queries the lease table's byServer index; the grant covers that table's indexes only.",
    });
    this.serverTable.grantReadWriteData(fn);
    fn.addEnvironment("LEASE_TABLE", this.leaseTable.tableName);
    fn.addEnvironment("SERVER_TABLE", this.serverTable.tableName);
    fn.addEnvironment("LEASE_DURATION_MS", String(this.leaseDuration.toMilliseconds()));
    fn.addEnvironment("MAX_CLOCK_SKEW_MS", String(this.maxClockSkew.toMilliseconds()));
  }
}
