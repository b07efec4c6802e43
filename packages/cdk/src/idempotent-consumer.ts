import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, BillingMode, type ITable, Table, type TableProps } from "aws-cdk-lib/aws-dynamodb";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { checkInteger } from "./function.ts";

export interface IdempotentConsumerProps {
  /** The queue whose messages `handler` consumes (a FIFO queue keeps each message group in order). */
  readonly queue: IQueue;
  /** Your function: it claims each message (`Claims` of @serverless-coordination/core/idempotency). */
  readonly handler: LambdaFunction;
  /** The claims' table: yours (partition key `pk`, TTL on `ttl`), or one is made. */
  readonly claimTable?: ITable;
  readonly claimTableProps?: Partial<TableProps>;
  /** Messages per invocation (default 10; 1 to 10, FIFO queues' limit). */
  readonly batchSize?: number;
  /** How long a claim protects a message's work before another worker may take it over (default 30 s). */
  readonly claimLease?: Duration;
  /** The environment variable that names the claim table (default CLAIM_TABLE). */
  readonly tableVariable?: string;
  /** What happens to the table made here when the stack is deleted (default RETAIN). */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * An idempotent consumer: your function on a queue, reporting partial batch failures, with a claim table
 * for effects that are not conditional. A claim is one conditional write (a lease with an owner token):
 * a duplicate delivery finds the work done and skips it; a worker whose claim expired and was taken over
 * can no longer complete it. The table's name reaches the function as CLAIM_TABLE, the lease as
 * CLAIM_LEASE_MS.
 */
export class IdempotentConsumer extends Construct {
  readonly claimTable: ITable;
  readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: IdempotentConsumerProps) {
    super(scope, id);
    const owner = `IdempotentConsumer ${this.node.path}`;
    checkInteger(owner, "batchSize", props.batchSize, 1, 10);
    if (props.claimTable && props.claimTableProps)
      throw new Error(`${owner}: claimTableProps tunes the table made here; you passed your own claimTable`);
    const lease = props.claimLease ?? Duration.seconds(30);
    if (lease.toMilliseconds() < 1000)
      throw new Error(`${owner}: claimLease must be at least one second, got ${lease.toMilliseconds()} ms`);
    const timeout = props.handler.timeout;
    if (timeout && lease.toMilliseconds() < timeout.toMilliseconds())
      throw new Error(
        `${owner}: claimLease (${lease.toSeconds()} s) must be at least the handler's timeout (${timeout.toSeconds()} s), or a claim could expire while its worker still runs`,
      );
    this.claimTable =
      props.claimTable ??
      new Table(this, "ClaimTable", {
        partitionKey: { name: "pk", type: AttributeType.STRING },
        timeToLiveAttribute: "ttl",
        billingMode: BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
        ...props.claimTableProps,
      });
    this.claimTable.grantReadWriteData(props.handler);
    props.handler.addEnvironment(props.tableVariable ?? "CLAIM_TABLE", this.claimTable.tableName);
    props.handler.addEnvironment("CLAIM_LEASE_MS", String(lease.toMilliseconds()));
    this.eventSource = new SqsEventSource(props.queue, {
      batchSize: props.batchSize ?? 10,
      reportBatchItemFailures: true,
    });
    props.handler.addEventSource(this.eventSource);
  }
}
