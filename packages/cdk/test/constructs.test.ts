/**
 * The constructs' props, as Template assertions: what the defaults make, that each resource can be
 * replaced or tuned, that a bad prop is a clear synth error, the grants, and cdk-nag on a user's stack
 * with every construct in it (synthesis fails on any finding nobody acknowledged).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api as contract } from "@serverless-coordination/core/api";
import { LEASES_BY_SERVER_INDEX as CORE_INDEX } from "@serverless-coordination/core/leases";
import { App, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { AttributeType, StreamViewType, Table } from "aws-cdk-lib/aws-dynamodb";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Code, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import {
  CoordinationApi,
  IdempotentConsumer,
  LeaseLookup,
  PaxosRegister,
  TransactionalOutbox,
} from "../src/index.ts";
import { LEASES_BY_SERVER_INDEX } from "../src/lease-lookup.ts";

const newStack = () => {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), "cdk-constructs-")) });
  return { app, stack: new Stack(app, "UserStack") };
};

/** A user's function as a careful user writes it: its own role and log group, the newest runtime. */
const userFunction = (stack: Stack, id: string, timeout = Duration.seconds(10)) => {
  const role = new Role(stack, `${id}Role`, { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
  const logGroup = new LogGroup(stack, `${id}Logs`, { retention: RetentionDays.ONE_WEEK });
  logGroup.grantWrite(role);
  return new LambdaFunction(stack, id, {
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    code: Code.fromInline("export const handler = async () => {};"),
    handler: "index.handler",
    role,
    logGroup,
    timeout,
  });
};

describe("TransactionalOutbox", () => {
  it("by default: a streamed outbox table, a FIFO queue with a dead-letter queue, the Relay and its failure path, alarms", () => {
    const { stack } = newStack();
    const outbox = new TransactionalOutbox(stack, "Orders");
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      StreamSpecification: { StreamViewType: "NEW_IMAGE" },
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Retain" });
    template.hasResourceProperties("AWS::SQS::Queue", {
      FifoQueue: true,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() },
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      StartingPosition: "TRIM_HORIZON",
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      Handler: "index.handler",
      Environment: {
        Variables: Match.objectLike({
          CHANGES_QUEUE_URL: Match.anyValue(),
          QUARANTINE_TABLE: Match.anyValue(),
        }),
      },
    });
    template.resourceCountIs("AWS::CloudWatch::Alarm", 3);
    expect(outbox.alarms).toHaveLength(3);
    expect(outbox.deadLetterQueue).toBeDefined();
  });

  it("takes your own table and queue, and tunes the Relay, its batches and the queue", () => {
    const { stack } = newStack();
    const table = new Table(stack, "MyOutbox", {
      partitionKey: { name: "id", type: AttributeType.STRING },
      stream: StreamViewType.NEW_IMAGE,
    });
    const queue = new Queue(stack, "MyQueue", { fifo: true, enforceSSL: true });
    const outbox = new TransactionalOutbox(stack, "Orders", {
      outboxTable: table,
      queue,
      batchSize: 25,
      retryAttempts: 3,
      relayProps: { memorySize: 1024 },
      alarms: false,
    });
    expect(outbox.outboxTable).toBe(table);
    expect(outbox.queue).toBe(queue);
    expect(outbox.deadLetterQueue).toBeUndefined();
    const template = Template.fromStack(stack);
    // Yours, the quarantine table; your queue, the failure queue: nothing else.
    template.resourceCountIs("AWS::DynamoDB::Table", 2);
    template.resourceCountIs("AWS::SQS::Queue", 2);
    template.resourceCountIs("AWS::CloudWatch::Alarm", 0);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 25,
      MaximumRetryAttempts: 3,
    });
    template.hasResourceProperties("AWS::Lambda::Function", { MemorySize: 1024, Timeout: 30 });
  });

  it("refuses a bad prop with a clear error at synth", () => {
    const cases: Array<[(stack: Stack) => void, RegExp]> = [
      [
        (stack) => new TransactionalOutbox(stack, "A", { queue: new Queue(stack, "Q") }),
        /queue must be a FIFO queue/,
      ],
      [
        (stack) => new TransactionalOutbox(stack, "B", { maxReceiveCount: 0 }),
        /maxReceiveCount must be a whole number from 1 to 1000, got 0/,
      ],
      [
        (stack) => new TransactionalOutbox(stack, "C", { batchSize: 2.5 }),
        /batchSize must be a whole number/,
      ],
      [
        (stack) =>
          new TransactionalOutbox(stack, "D", {
            outboxTable: new Table(stack, "T", { partitionKey: { name: "id", type: AttributeType.STRING } }),
          }),
        /outboxTable must have a stream/,
      ],
      [
        (stack) =>
          new TransactionalOutbox(stack, "E", {
            queue: new Queue(stack, "F", { fifo: true }),
            maxReceiveCount: 3,
          }),
        /you passed your own queue/,
      ],
    ];
    for (const [build, message] of cases) expect(() => build(newStack().stack)).toThrow(message);
  });

  it("grantCommit gives a function write access to the outbox table and its name, together", () => {
    const { stack } = newStack();
    const outbox = new TransactionalOutbox(stack, "Orders");
    const api = userFunction(stack, "OrdersApi");
    outbox.grantCommit(api);
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.handler",
      Environment: { Variables: { OUTBOX_TABLE: { Ref: Match.stringLikeRegexp("^OrdersOutboxTable") } } },
    });
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("^OrdersApiRole") }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(["dynamodb:PutItem"]),
            Resource: Match.arrayWith([
              { "Fn::GetAtt": [Match.stringLikeRegexp("^OrdersOutboxTable"), "Arn"] },
            ]),
          }),
        ]),
      },
    });
  });
});

describe("IdempotentConsumer", () => {
  it("wires your function to the queue with partial batch failures and a claim table it may use", () => {
    const { stack } = newStack();
    const queue = new Queue(stack, "Jobs", { fifo: true, enforceSSL: true });
    const worker = userFunction(stack, "Worker");
    const consumer = new IdempotentConsumer(stack, "Billing", { queue, handler: worker, batchSize: 5 });
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 5,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: {
          CLAIM_TABLE: { Ref: Match.stringLikeRegexp("^BillingClaimTable") },
          CLAIM_LEASE_MS: "30000",
        },
      },
    });
    expect(consumer.claimTable).toBeDefined();
  });

  it("refuses a claim lease shorter than the function's timeout, and a FIFO batch over 10", () => {
    const { stack } = newStack();
    const queue = new Queue(stack, "Jobs", { fifo: true });
    const worker = userFunction(stack, "Worker", Duration.seconds(60));
    expect(() => new IdempotentConsumer(stack, "A", { queue, handler: worker })).toThrow(
      /claimLease \(30 s\) must be at least the handler's timeout \(60 s\)/,
    );
    expect(
      () =>
        new IdempotentConsumer(stack, "B", {
          queue,
          handler: worker,
          claimLease: Duration.minutes(2),
          batchSize: 11,
        }),
    ).toThrow(/batchSize must be a whole number from 1 to 10, got 11/);
  });
});

describe("PaxosRegister", () => {
  it("makes N acceptors, each the only user of its own table; grantPropose lets a function invoke them", () => {
    const { stack } = newStack();
    const register = new PaxosRegister(stack, "Config", {
      acceptors: 5,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const proposer = userFunction(stack, "Proposer");
    register.grantPropose(proposer);
    const template = Template.fromStack(stack);
    template.resourceCountIs("AWS::DynamoDB::Table", 5);
    expect(register.acceptors.map((acceptor) => acceptor.id)).toEqual([
      "Acceptor1",
      "Acceptor2",
      "Acceptor3",
      "Acceptor4",
      "Acceptor5",
    ]);
    // Each acceptor's policy names its own table and no other.
    const policies = template.findResources("AWS::IAM::Policy");
    for (const acceptor of register.acceptors) {
      const roleId = stack.getLogicalId(acceptor.fn.role!.node.defaultChild as never);
      const tableId = stack.getLogicalId(acceptor.table.node.defaultChild as never);
      const policy = Object.values(policies).find((candidate) =>
        JSON.stringify(candidate.Properties.Roles).includes(roleId),
      );
      const tables = [
        ...JSON.stringify(policy?.Properties.PolicyDocument).matchAll(/"(ConfigAcceptor\dTable[0-9A-F]+)"/g),
      ].map((match) => match[1]);
      expect(new Set(tables), acceptor.id).toEqual(new Set([tableId]));
    }
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({ REPLICA_IDS: "Acceptor1,Acceptor2,Acceptor3,Acceptor4,Acceptor5" }),
      },
    });
  });

  it("refuses an even or out-of-range number of acceptors", () => {
    for (const acceptors of [1, 4, 9, 2.5])
      expect(() => new PaxosRegister(newStack().stack, "R", { acceptors })).toThrow(
        /acceptors must be an odd number from 3 to 7/,
      );
  });
});

describe("LeaseLookup", () => {
  it("makes a lease table with its by-server index and no TTL, a server table with TTL; grantLookup gives both and the settings", () => {
    const { stack } = newStack();
    const lookup = new LeaseLookup(stack, "Sessions", {
      leaseDuration: Duration.seconds(5),
      maxClockSkew: Duration.millis(500),
    });
    const service = userFunction(stack, "Router");
    lookup.grantLookup(service);
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [{ AttributeName: "sessionId", KeyType: "HASH" }],
      GlobalSecondaryIndexes: [
        Match.objectLike({ IndexName: LEASES_BY_SERVER_INDEX, Projection: { ProjectionType: "KEYS_ONLY" } }),
      ],
      TimeToLiveSpecification: Match.absent(),
    });
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [{ AttributeName: "serverId", KeyType: "HASH" }],
      TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          LEASE_DURATION_MS: "5000",
          MAX_CLOCK_SKEW_MS: "500",
          LEASE_TABLE: Match.anyValue(),
          SERVER_TABLE: Match.anyValue(),
        }),
      },
    });
  });

  it("names the index as the lease service queries it", () => {
    expect(LEASES_BY_SERVER_INDEX).toBe(CORE_INDEX);
  });

  it("refuses a skew bound of half the lease or more, a lease under 100 ms, and a TTL on leases", () => {
    expect(
      () =>
        new LeaseLookup(newStack().stack, "A", {
          leaseDuration: Duration.seconds(2),
          maxClockSkew: Duration.seconds(1),
        }),
    ).toThrow(/maxClockSkew must be less than half of leaseDuration/);
    expect(() => new LeaseLookup(newStack().stack, "B", { leaseDuration: Duration.millis(50) })).toThrow(
      /at least 100 ms/,
    );
    expect(
      () => new LeaseLookup(newStack().stack, "C", { leaseTableProps: { timeToLiveAttribute: "ttl" } }),
    ).toThrow(/the lease table takes no TTL/);
  });
});

describe("CoordinationApi", () => {
  it("by default: three replicas each on its own table, every route of the contract behind IAM but /health, throttled, the Api's concurrency reserved, tables retained", () => {
    const { stack } = newStack();
    const coordination = new CoordinationApi(stack, "Coordination");
    const template = Template.fromStack(stack);
    expect(coordination.replicas.map((replica) => replica.id)).toEqual(["Replica1", "Replica2", "Replica3"]);
    const routes = Object.values(template.findResources("AWS::ApiGatewayV2::Route")).map(
      (route) => `${route.Properties.RouteKey} ${route.Properties.AuthorizationType ?? "NONE"}`,
    );
    expect(routes.sort()).toEqual(
      Object.values(contract)
        .map((route) => `${route.method} ${route.path} ${route.public ? "NONE" : "AWS_IAM"}`)
        .sort(),
    );
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      ReservedConcurrentExecutions: 20,
      Environment: {
        Variables: Match.objectLike({
          REPLICA_IDS: "Replica1,Replica2,Replica3",
          LEASE_DURATION_MS: "10000",
          IDEMPOTENCY_TABLE: Match.anyValue(),
          CHANGE_COUNTER_TABLE: Match.anyValue(),
        }),
      },
    });
    // The changes queue's consumer is the Replicator, with claims; a change is retried for hours.
    template.hasResourceProperties("AWS::SQS::Queue", {
      FifoQueue: true,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 500 }),
    });
    for (const table of Object.values(template.findResources("AWS::DynamoDB::Table")))
      expect(table.DeletionPolicy).toBe("Retain");
    // Only the primary replica writes the outbox.
    const outboxWriters = Object.values(template.findResources("AWS::Lambda::Function")).filter(
      (fn) =>
        fn.Properties.Environment?.Variables?.OUTBOX_TABLE && fn.Properties.Environment.Variables.REPLICA_ID,
    );
    expect(outboxWriters.map((fn) => fn.Properties.Environment.Variables.REPLICA_ID)).toEqual(["Replica1"]);
  });

  it("takes overrides: five replicas, open routes, its own throttle, unreserved concurrency, lease settings, deletable tables", () => {
    const { stack } = newStack();
    new CoordinationApi(stack, "Coordination", {
      replicas: 5,
      auth: "none",
      throttle: { rateLimit: 5, burstLimit: 10 },
      apiConcurrency: 0,
      leaseDuration: Duration.seconds(3),
      maxClockSkew: Duration.millis(300),
      removalPolicy: RemovalPolicy.DESTROY,
      apiProps: { memorySize: 1024 },
    });
    const template = Template.fromStack(stack);
    for (const route of Object.values(template.findResources("AWS::ApiGatewayV2::Route")))
      expect(route.Properties.AuthorizationType ?? "NONE").toBe("NONE");
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
    const api = Object.values(template.findResources("AWS::Lambda::Function")).find(
      (fn) => fn.Properties.Environment?.Variables?.IDEMPOTENCY_TABLE,
    )!;
    expect(api.Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(api.Properties.MemorySize).toBe(1024);
    expect(api.Properties.Environment.Variables).toMatchObject({
      REPLICA_IDS: "Replica1,Replica2,Replica3,Replica4,Replica5",
      LEASE_DURATION_MS: "3000",
      MAX_CLOCK_SKEW_MS: "300",
    });
    for (const table of Object.values(template.findResources("AWS::DynamoDB::Table")))
      expect(table.DeletionPolicy).toBe("Delete");
  });

  it("refuses a bad prop with a clear synth error", () => {
    expect(() => new CoordinationApi(newStack().stack, "C", { replicas: 4 })).toThrow(
      /CoordinationApi .*replicas must be an odd number from 3 to 7, got 4/,
    );
    expect(() => new CoordinationApi(newStack().stack, "C", { apiConcurrency: -1 })).toThrow(
      /apiConcurrency/,
    );
    expect(
      () => new CoordinationApi(newStack().stack, "C", { auth: "none", authorizer: {} as never }),
    ).toThrow(/auth or authorizer/);
    expect(
      () =>
        new CoordinationApi(newStack().stack, "C", {
          leaseDuration: Duration.seconds(1),
          maxClockSkew: Duration.seconds(1),
        }),
    ).toThrow(/LeaseLookup/);
  });
});

describe("cdk-nag on a user's stack with every construct", () => {
  it("has no finding nobody acknowledged", () => {
    const { app, stack } = newStack();
    const outbox = new TransactionalOutbox(stack, "Orders");
    const api = userFunction(stack, "OrdersApi");
    outbox.grantCommit(api);
    const worker = userFunction(stack, "Worker");
    new IdempotentConsumer(stack, "Billing", { queue: outbox.queue, handler: worker });
    new PaxosRegister(stack, "Config").grantPropose(api);
    new LeaseLookup(stack, "Sessions").grantLookup(api);
    new CoordinationApi(stack, "Coordination");
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it("fails on a finding nobody acknowledged, in the same setup (the check runs)", () => {
    const { app, stack } = newStack();
    new TransactionalOutbox(stack, "Orders");
    new Queue(stack, "PlainQueue");
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });
});

describe("the package README's example, as written", () => {
  it("synthesizes the order stack: the outbox granted to the API, the consumer on its queue, three acceptors", async () => {
    const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
    const start = readme.indexOf("```ts\n") + "```ts\n".length;
    const source = readme.slice(start, readme.indexOf("\n```", start));
    // Beside this file, so its imports resolve as in a user's project (the package from its sources).
    const dir = mkdtempSync(join(import.meta.dirname, ".readme-"));
    try {
      writeFileSync(join(dir, "app.ts"), source);
      const { default: app } = (await import(join(dir, "app.ts"))) as { default: App };
      const template = Template.fromStack(app.node.findChild("Orders") as Stack);
      const api = Object.values(template.findResources("AWS::Lambda::Function")).find((fn) =>
        String(JSON.stringify(fn.Properties.Environment ?? {})).includes("OUTBOX_TABLE"),
      );
      expect(Object.keys(api?.Properties.Environment.Variables ?? {})).toEqual(
        expect.arrayContaining(["OUTBOX_TABLE", "REPLICA_IDS", "REPLICA_FUNCTIONS"]),
      );
      template.hasResourceProperties("AWS::SQS::Queue", { FifoQueue: true });
      template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        FunctionName: { Ref: Match.stringLikeRegexp("^Biller") },
        FunctionResponseTypes: ["ReportBatchItemFailures"],
      });
      const acceptorTables = Object.keys(template.findResources("AWS::DynamoDB::Table")).filter((id) =>
        id.startsWith("Config"),
      );
      expect(acceptorTables).toHaveLength(3);
      // The repository README's cdk fragment is these very lines.
      const front = readFileSync(join(import.meta.dirname, "..", "..", "..", "README.md"), "utf8");
      const at = front.indexOf("```ts\n", front.indexOf("**cdk**:")) + "```ts\n".length;
      expect(source).toContain(front.slice(at, front.indexOf("\n```", at)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
