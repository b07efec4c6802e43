import { api as contract } from "@serverless-coordination/core/api";
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { AttributeType, BillingMode, Table, type TableProps } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { checkInteger, type FunctionOverrides, ownFunction } from "./function.ts";
import { IdempotentConsumer } from "./idempotent-consumer.ts";
import { LeaseLookup } from "./lease-lookup.ts";
import { TransactionalOutbox } from "./transactional-outbox.ts";

export interface CoordinationApiProps {
  /** Replicas: Paxos acceptors and copies of the key-value store, each with its own table (odd, 3 to 7; default 3). */
  readonly replicas?: number;
  /** How long a session's lease lives without a heartbeat (default 10 s). */
  readonly leaseDuration?: Duration;
  /** The clock-skew bound between the service's instances and servers (default 1 s; under half the lease). */
  readonly maxClockSkew?: Duration;
  /** `iam` (default): every route but GET /health needs a SigV4 signature allowed execute-api:Invoke; `none`: every route is open. */
  readonly auth?: "iam" | "none";
  /** Or your own authorizer for every route but GET /health (instead of `auth`). */
  readonly authorizer?: IHttpRouteAuthorizer;
  /** The stage's throttling: requests per second and burst (default 100 and 200). */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /** The Api function's reserved concurrency, bounding what a flood of requests costs (default 20; 0: unreserved). */
  readonly apiConcurrency?: number;
  /** Receives of a change before it goes to the dead-letter queue (default 500: with retry delays growing to 30 s, about four hours). */
  readonly maxReceiveCount?: number;
  /** Tunes the Api function (memory, ...; not its code). */
  readonly apiProps?: FunctionOverrides;
  /** Tunes every replica function. */
  readonly replicaProps?: FunctionOverrides;
  /** Tunes the Replicator function. */
  readonly replicatorProps?: FunctionOverrides;
  /** Tunes every table made here (the replicas', the counters', the Idempotency-Key records'). */
  readonly tableProps?: Partial<TableProps>;
  /** What happens to the tables when the stack is deleted (default RETAIN: an acceptor's promises and the lease table's fencing tokens must outlive any redeploy). */
  readonly removalPolicy?: RemovalPolicy;
  /** The outbox's alarms (default true). */
  readonly alarms?: boolean;
}

/** A replica: its id (REPLICA_ID, the order in REPLICA_IDS), function and table. */
export interface CoordinationReplica {
  readonly id: string;
  readonly fn: LambdaFunction;
  readonly table: Table;
}

/**
 * The whole coordination service behind one HTTP API (API Gateway v2), as the typed client of
 * @serverless-coordination/client speaks to it: Paxos registers (write-once and rewritable), the
 * replicated key-value store (`all` and `primary` writes through a transactional outbox, an idempotent
 * Replicator and a change counter), the sticky lookup with leases and fencing tokens, and mesh subsets.
 * Every route of the API contract (@serverless-coordination/core/api) and nothing else; write routes keep
 * Idempotency-Key records for 24 hours.
 *
 *   const coordination = new CoordinationApi(this, "Coordination", { replicas: 5 });
 *   new CfnOutput(this, "ApiUrl", { value: coordination.url });
 */
export class CoordinationApi extends Construct {
  readonly replicas: CoordinationReplica[];
  readonly outbox: TransactionalOutbox;
  readonly replicator: LambdaFunction;
  readonly changes: IdempotentConsumer;
  readonly changeCounterTable: Table;
  readonly idempotencyTable: Table;
  readonly lookup: LeaseLookup;
  readonly apiFunction: LambdaFunction;
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  /** The API's URL (the stage's, without a trailing slash on AWS). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: CoordinationApiProps = {}) {
    super(scope, id);
    const owner = `CoordinationApi ${this.node.path}`;
    const count = props.replicas ?? 3;
    if (!Number.isInteger(count) || count < 3 || count > 7 || count % 2 === 0)
      throw new Error(`${owner}: replicas must be an odd number from 3 to 7, got ${count}`);
    checkInteger(owner, "apiConcurrency", props.apiConcurrency, 0, 10_000);
    checkInteger(owner, "maxReceiveCount", props.maxReceiveCount, 1, 1000);
    if (props.auth && props.authorizer) throw new Error(`${owner}: pass auth or authorizer, not both`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const table = (tableId: string, partitionKey: string, ttl?: string) =>
      new Table(this, tableId, {
        partitionKey: { name: partitionKey, type: AttributeType.STRING },
        billingMode: BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy,
        timeToLiveAttribute: ttl,
        ...props.tableProps,
      });

    // Each replica may touch its own table and nothing else (the primary also writes the outbox).
    this.replicas = Array.from({ length: count }, (_, index) => {
      const replicaId = `Replica${index + 1}`;
      const replicaTable = table(`${replicaId}Table`, "pk");
      const fn = ownFunction(
        this,
        replicaId,
        "replica",
        {
          timeout: Duration.seconds(3),
          environment: { REPLICA_ID: replicaId, REPLICA_TABLE: replicaTable.tableName },
        },
        props.replicaProps,
      );
      replicaTable.grantReadWriteData(fn);
      return { id: replicaId, fn, table: replicaTable };
    });

    this.outbox = new TransactionalOutbox(this, "Outbox", {
      maxReceiveCount: props.maxReceiveCount ?? 500,
      removalPolicy,
      alarms: props.alarms,
    });
    this.outbox.grantCommit(this.replicas[0]!.fn);

    this.changeCounterTable = table("ChangeCounterTable", "pk");
    this.replicator = ownFunction(
      this,
      "Replicator",
      "replicator",
      {
        timeout: Duration.seconds(30),
        environment: {
          CHANGES_QUEUE_URL: this.outbox.queue.queueUrl,
          CHANGE_COUNTER_TABLE: this.changeCounterTable.tableName,
          ...(props.maxClockSkew ? { MAX_CLOCK_SKEW_MS: String(props.maxClockSkew.toMilliseconds()) } : {}),
        },
      },
      props.replicatorProps,
    );
    this.changeCounterTable.grantReadWriteData(this.replicator);
    this.grantReplicas(this.replicator);
    // Claims count each change once, however often the queue delivers it.
    this.changes = new IdempotentConsumer(this, "Changes", {
      queue: this.outbox.queue,
      handler: this.replicator,
      claimLease: Duration.seconds(30),
      removalPolicy,
    });

    this.lookup = new LeaseLookup(this, "Lookup", {
      leaseDuration: props.leaseDuration,
      maxClockSkew: props.maxClockSkew,
      removalPolicy,
    });
    this.idempotencyTable = table("IdempotencyTable", "pk", "ttl");

    // A move waits up to one lease duration plus the skew bound; API Gateway gives a request 30 s.
    const concurrency = props.apiConcurrency ?? 20;
    this.apiFunction = ownFunction(
      this,
      "Api",
      "api",
      {
        timeout: Duration.seconds(29),
        ...(concurrency > 0 ? { reservedConcurrentExecutions: concurrency } : {}),
        environment: {
          CHANGE_COUNTER_TABLE: this.changeCounterTable.tableName,
          IDEMPOTENCY_TABLE: this.idempotencyTable.tableName,
        },
      },
      props.apiProps,
    );
    this.grantReplicas(this.apiFunction);
    this.changeCounterTable.grantReadData(this.apiFunction);
    this.idempotencyTable.grantReadWriteData(this.apiFunction);
    this.lookup.grantLookup(this.apiFunction);

    this.httpApi = new HttpApi(this, "Http", { createDefaultStage: false });
    const accessLogs = new LogGroup(this, "AccessLogs", {
      retention: RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, "DefaultStage", {
      httpApi: this.httpApi,
      stageName: "$default",
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 100, burstLimit: 200 },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
    });
    const authorizer =
      props.authorizer ?? ((props.auth ?? "iam") === "iam" ? new HttpIamAuthorizer() : undefined);
    const integration = new HttpLambdaIntegration("Handler0", this.apiFunction);
    // Every route of the API contract, nothing else.
    for (const route of Object.values(contract)) {
      const added = this.httpApi.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration,
        ...(authorizer && !route.public ? { authorizer } : {}),
      });
      if (authorizer && route.public)
        for (const open of added)
          Validations.of(open).acknowledge({
            id: "AwsSolutions-APIG4",
            reason: "A health check, open by design; it reads nothing and writes nothing.",
          });
    }
    if (!authorizer)
      Validations.of(this.httpApi).acknowledge({
        id: "AwsSolutions-APIG4",
        reason: "Deployed with auth: none on purpose: every route is open.",
      });
    this.url = this.stage.url;
  }

  /** Lets `fn` invoke every replica ($LATEST only), named in order in REPLICA_IDS and REPLICA_FUNCTIONS. */
  private grantReplicas(fn: LambdaFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["lambda:InvokeFunction"],
        resources: this.replicas.map((replica) => replica.fn.functionArn),
      }),
    );
    fn.addEnvironment("REPLICA_IDS", this.replicas.map((replica) => replica.id).join(","));
    fn.addEnvironment("REPLICA_FUNCTIONS", this.replicas.map((replica) => replica.fn.functionName).join(","));
  }
}
