import { api, routeKey } from "@serverless-coordination/core/api";
import { App, Stack, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../infra/app.ts";
import { fromRoot } from "../../infra/paths.ts";

let template: Template;

beforeAll(() => {
  const { app, stack } = buildApp(new App({ outdir: fromRoot(".local/test-assemblies/infra") }));
  // Synthesis runs cdk-nag: it throws on any finding that is not acknowledged with a reason.
  app.synth();
  template = Template.fromStack(stack);
});

describe("the stack", () => {
  it("serves GET /health from the Api function through an HTTP API with payload 2.0", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Api", { ProtocolType: "HTTP" });
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: "GET /health" });
    template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      PayloadFormatVersion: "2.0",
      IntegrationUri: { "Fn::GetAtt": [Match.stringLikeRegexp("^CoordinationApi"), "Arn"] },
    });
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  it("outputs the API URL", () => {
    template.hasOutput("ApiUrl", {});
  });

  it("runs every function on the newest Node.js runtime with an explicit log group, and no half-done X-Ray", () => {
    const functions = template.findResources("AWS::Lambda::Function");
    expect(Object.keys(functions).length).toBeGreaterThan(0);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Runtime).toBe("nodejs24.x");
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
      // Tracing without traced SDK clients would be paid for and show nothing useful.
      expect(fn.Properties.TracingConfig).toBeUndefined();
    }
  });

  it("gives the Api function's role no managed policy and no wildcard", () => {
    const roles = template.findResources("AWS::IAM::Role");
    for (const role of Object.values(roles)) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const policies = template.findResources("AWS::IAM::Policy", {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp("^CoordinationApiRole") }] },
    });
    const statements = Object.values(policies).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement,
    );
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const actions = [statement.Action].flat() as string[];
      const resources = JSON.stringify(statement.Resource);
      expect(statement.Resource).not.toBe("*");
      if (actions.includes("lambda:InvokeFunction")) {
        // It may invoke the replicas, unqualified, and nothing else.
        expect(actions).toEqual(["lambda:InvokeFunction"]);
        const targets = [statement.Resource].flat().map((resource) => JSON.stringify(resource));
        expect(targets).toHaveLength(3);
        for (const target of targets)
          expect(target).toMatch(/^\{"Fn::GetAtt":\["CoordinationReplica\d+[A-F0-9]+","Arn"\]\}$/);
      } else if (actions.some((action) => action.startsWith("dynamodb:"))) {
        // It reads the change counters and keeps the lookup service's tables; the replicas own the data.
        expect(resources).toMatch(
          /ChangeCounterTable|IdempotencyTable|CoordinationLookupLeaseTable|CoordinationLookupServerTable/,
        );
        expect(resources).not.toMatch(/Replica\dTable|OutboxTable|ClaimTable/);
        if (/ChangeCounterTable/.test(resources))
          expect(
            actions.every((action) =>
              /^dynamodb:(Get|Query|Scan|BatchGet|ConditionCheck|Describe)/.test(action),
            ),
          ).toBe(true);
      } else {
        // Logs may be written only to the function's own log group.
        expect(actions.every((action) => action.startsWith("logs:"))).toBe(true);
        expect(resources).toMatch(/ApiLogs/);
      }
    }
  });

  it("has Replica1..3 by default, each allowed to touch only its own table (the primary: and the outbox)", () => {
    const tables = Object.keys(template.findResources("AWS::DynamoDB::Table"));
    for (const n of [1, 2, 3]) {
      const policies = template.findResources("AWS::IAM::Policy", {
        Properties: { Roles: [{ Ref: Match.stringLikeRegexp(`^CoordinationReplica${n}Role`) }] },
      });
      const text = JSON.stringify(Object.values(policies));
      const touched = tables.filter((table) => text.includes(table));
      const own = touched.filter((table) => new RegExp(`^CoordinationReplica${n}Table`).test(table));
      expect(own).toHaveLength(1);
      const others = touched.filter((table) => !own.includes(table));
      // Replica1 is the primary: it commits each write with its outbox record.
      if (n === 1) expect(others).toEqual([expect.stringMatching(/^CoordinationOutboxOutboxTable/)]);
      else expect(others).toEqual([]);
      // No statement grants DynamoDB actions on every resource (parsed, not matched as text: CDK writes
      // Action before Resource).
      const statements = Object.values(policies).flatMap(
        (policy) =>
          (
            policy as {
              Properties: {
                PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
              };
            }
          ).Properties.PolicyDocument.Statement,
      );
      const wildcardDynamo = statements.filter(
        (statement) =>
          [statement.Action].flat().some((action) => action.startsWith("dynamodb:")) &&
          [statement.Resource].flat().includes("*"),
      );
      expect(wildcardDynamo).toEqual([]);
      expect(
        statements.some((statement) =>
          [statement.Action].flat().some((action) => action.startsWith("dynamodb:")),
        ),
      ).toBe(true);
    }
    expect(
      Object.keys(template.findResources("AWS::Lambda::Function")).filter((id) =>
        /^CoordinationReplica\d/.test(id),
      ),
    ).toHaveLength(3);
  });
});

describe("replication", () => {
  it("relays the outbox stream with bisect, bounded retries, partial failures and a failure destination", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      StreamSpecification: { StreamViewType: "NEW_IMAGE" },
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: Match.stringLikeRegexp("^CoordinationOutboxRelay") },
      EventSourceArn: {
        "Fn::GetAtt": [Match.stringLikeRegexp("^CoordinationOutboxOutboxTable"), "StreamArn"],
      },
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      DestinationConfig: {
        OnFailure: {
          Destination: { "Fn::GetAtt": [Match.stringLikeRegexp("^CoordinationOutboxRelayFailures"), "Arn"] },
        },
      },
    });
  });

  it("feeds the Replicator from the outbox's FIFO queue with a FIFO dead-letter queue", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      FifoQueue: true,
      RedrivePolicy: {
        deadLetterTargetArn: {
          "Fn::GetAtt": [Match.stringLikeRegexp("^CoordinationOutboxDeadLetterQueue"), "Arn"],
        },
        maxReceiveCount: 500,
      },
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: Match.stringLikeRegexp("^CoordinationReplicator") },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("configures the lookup service's lease duration and skew bound from context", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ LEASE_DURATION_MS: "10000", MAX_CLOCK_SKEW_MS: "1000" }) },
    });
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      GlobalSecondaryIndexes: [
        Match.objectLike({ IndexName: "byServer", Projection: { ProjectionType: "KEYS_ONLY" } }),
      ],
    });
  });

  it("never expires lease items by TTL: a session's fencing tokens must never start again", () => {
    const tables = template.findResources("AWS::DynamoDB::Table");
    const leaseTables = Object.entries(tables).filter(([, table]) =>
      JSON.stringify(table.Properties.KeySchema).includes('"sessionId"'),
    );
    expect(leaseTables).toHaveLength(1);
    expect(leaseTables[0]![1].Properties.TimeToLiveSpecification).toBeUndefined();
  });

  it("requires IAM authorization on every route but GET /health, unless context auth=none", () => {
    const routes = Object.values(template.findResources("AWS::ApiGatewayV2::Route"));
    expect(routes.length).toBeGreaterThan(10);
    for (const route of routes) {
      const { RouteKey, AuthorizationType } = route.Properties;
      expect(`${RouteKey} ${AuthorizationType ?? "NONE"}`).toBe(
        `${RouteKey} ${RouteKey === "GET /health" ? "NONE" : "AWS_IAM"}`,
      );
    }
    const open = Template.fromStack(
      buildApp(new App({ outdir: fromRoot(".local/test-assemblies/infra-open"), context: { auth: "none" } }))
        .stack,
    );
    for (const route of Object.values(open.findResources("AWS::ApiGatewayV2::Route")))
      expect(route.Properties.AuthorizationType ?? "NONE").toBe("NONE");
    expect(() => buildApp(new App({ context: { auth: "cognito" } }))).toThrow(/auth/);
  });

  it("alarms an SNS topic on dead letters, relay failures, quarantine, iterator age, API 5xx, and every function's errors and throttles; has a dashboard", () => {
    template.hasOutput("AlarmTopicArn", {});
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny" })]) },
    });
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")).map(
      (alarm) => alarm.Properties,
    );
    const named = (metric: string) => alarms.filter((alarm) => alarm.MetricName === metric);
    // Queues (ChangesDlq, RelayFailures), the quarantine metric, the stream, the API.
    expect(named("ApproximateNumberOfMessagesVisible")).toHaveLength(2);
    expect(named("RelayQuarantined")).toHaveLength(1);
    expect(named("RelayQuarantined")[0].Namespace).toBe("ServerlessCoordination");
    expect(named("IteratorAge")).toHaveLength(1);
    expect(named("5xx")).toHaveLength(1);
    const functions = Object.keys(template.findResources("AWS::Lambda::Function")).filter((id) =>
      /^Coordination(Api|Replica\d|OutboxRelay|Replicator)[A-F0-9]{8}$/.test(id),
    );
    expect(named("Errors")).toHaveLength(functions.length);
    expect(named("Throttles")).toHaveLength(functions.length);
    for (const alarm of alarms) expect(alarm.AlarmActions).toHaveLength(1);
    const dashboards = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]!.Properties.DashboardBody);
    for (const metric of ["RelaySent", "ReplicaApplied", "ReplicaStale", "ReplicationLag", "IteratorAge"])
      expect(body).toContain(metric);
  });

  it("retains every table when the stack is deleted, unless the stack is ephemeral", () => {
    const tables = Object.values(template.findResources("AWS::DynamoDB::Table"));
    // Replicas (acceptors; the primary), leases, servers, outbox, quarantine, claims, counters, idempotency.
    expect(tables.length).toBeGreaterThanOrEqual(10);
    for (const table of tables) {
      expect(table.DeletionPolicy).toBe("Retain");
      expect(table.UpdateReplacePolicy).toBe("Retain");
    }
    const app = new App({
      outdir: fromRoot(".local/test-assemblies/infra-ephemeral"),
      context: { ephemeral: "true" },
    });
    const ephemeral = Template.fromStack(buildApp(app).stack);
    for (const table of Object.values(ephemeral.findResources("AWS::DynamoDB::Table")))
      expect(table.DeletionPolicy).toBe("Delete");
    expect(() => buildApp(new App({ context: { ephemeral: "yes" } }))).toThrow(/ephemeral/);
  });

  it("throttles the API stage and bounds the Api function's concurrency, from context", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
    const api = Object.entries(template.findResources("AWS::Lambda::Function")).filter(([id]) =>
      id.startsWith("CoordinationApi"),
    );
    expect(api).toHaveLength(1);
    expect(api[0]![1].Properties.ReservedConcurrentExecutions).toBe(20);
    const custom = Template.fromStack(
      buildApp(
        new App({
          outdir: fromRoot(".local/test-assemblies/infra-limits"),
          context: { apiRateLimit: 5, apiBurstLimit: 10, apiConcurrency: 0 },
        }),
      ).stack,
    );
    custom.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
    for (const [id, fn] of Object.entries(custom.findResources("AWS::Lambda::Function")))
      if (id.startsWith("CoordinationApi"))
        expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it("outputs the names a deployment's tests and operators need", () => {
    for (const output of [
      "ChangesQueueUrl",
      "OutboxTableName",
      "QuarantineTableName",
      "OutboxReplayFunctionName",
      "LeaseTableName",
      "ServerTableName",
    ])
      template.hasOutput(output, {});
  });
});

describe("the API contract", () => {
  it("the stack serves exactly the contract's routes, /health alone public", () => {
    const served = Object.values(template.findResources("AWS::ApiGatewayV2::Route"))
      .map((route) => route.Properties.RouteKey as string)
      .sort();
    expect(served).toEqual(Object.values(api).map(routeKey).sort());
  });
});

describe("cdk-nag", () => {
  it("fails synthesis on a finding nobody acknowledged (the check can fail)", () => {
    const app = new App({ outdir: fromRoot(".local/test-assemblies/nag-negative") });
    const stack = new Stack(app, "Unreviewed");
    new Queue(stack, "PlainQueue");
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });
});
