/**
 * The HTTP API is defined once (packages/core/src/api/contract.ts); the router, the stack's routes, the OpenAPI
 * description and the client are derived from it. These tests compare all four with the definition, and
 * show that a route removed from the definition disappears from each.
 */
import { readFileSync } from "node:fs";
import { ApiError, ContractClient } from "@serverless-coordination/client";
import { type AnyRoute, api, openApiDocument, routeKey, without } from "@serverless-coordination/core/api";
import { contractRouter, type Handlers } from "@serverless-coordination/core/http";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { Code, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { OPENAPI_FILE, renderOpenApi } from "../../infra/bin/openapi.ts";
import { AppHttpApi, stackRoutes } from "../../infra/constructs/http-api.ts";

const keysOf = (contract: Record<string, AnyRoute>) => Object.values(contract).map(routeKey).sort();

/** Every route key the OpenAPI description has an operation for. */
const described = (contract: Record<string, AnyRoute>) =>
  Object.entries(openApiDocument(contract).paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();

/** Every route key an AppHttpApi built from the contract puts in the template. */
const stackServes = (contract: Record<string, AnyRoute>) => {
  const stack = new Stack(new App(), "ContractOnly");
  const handler = new LambdaFunction(stack, "Handler", {
    runtime: Runtime.NODEJS_24_X,
    handler: "index.handler",
    code: Code.fromInline("exports.handler = async () => ({})"),
  });
  new AppHttpApi(stack, "Http", { handler, routes: stackRoutes(contract) });
  return Object.values(Template.fromStack(stack).findResources("AWS::ApiGatewayV2::Route"))
    .map((route) => route.Properties.RouteKey as string)
    .sort();
};

const event = (key: string): APIGatewayProxyEventV2 =>
  ({
    routeKey: key,
    rawPath: key.split(" ")[1],
    // A bad value for every path parameter: a served route refuses it with 400 before any handler runs.
    pathParameters: { key: "", serverId: "", sessionId: "", clientId: "" },
    headers: {},
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2;

/** Every route key a router built from the contract dispatches (anything but 404 RouteNotFound). */
const routerServes = async (contract: Record<string, AnyRoute>) => {
  const handlers = Object.fromEntries(Object.keys(contract).map((name) => [name, async () => ({})]));
  const route = contractRouter(contract, handlers as Handlers<typeof contract>, { error: () => {} });
  const served: string[] = [];
  for (const key of keysOf(api)) {
    const answer = await route(event(key));
    if (!(answer.statusCode === 404 && String(answer.body).includes("RouteNotFound"))) served.push(key);
  }
  return served.sort();
};

/** Every route the client can call (a call it refuses before sending is one it cannot make). */
const clientCalls = async (contract: Record<string, AnyRoute>) => {
  const sent: string[] = [];
  const client = new ContractClient(
    {
      endpoint: "http://127.0.0.1:9",
      maxAttempts: 1,
      fetch: (async (_url: URL, init: RequestInit) => {
        sent.push(String(init.method));
        return new Response(JSON.stringify({ error: { code: "Refused", message: "test" } }), { status: 400 });
      }) as typeof fetch,
    },
    contract,
  );
  const callable: string[] = [];
  for (const [name, route] of Object.entries(api)) {
    const before = sent.length;
    const params = { key: "k", serverId: "s", sessionId: "s", clientId: "1" };
    // biome-ignore lint/suspicious/noExplicitAny: every route by name, whichever its input type.
    await (client.call as any)(name, { params, body: {} }).catch((error: unknown) => {
      if (!(error instanceof ApiError)) return;
    });
    if (sent.length > before && sent.at(-1) === route.method) callable.push(routeKey(route));
  }
  return callable.sort();
};

describe("one definition of the HTTP API", () => {
  it("docs/openapi.json is exactly what the contract generates (after a change: npm run openapi)", () => {
    expect(readFileSync(OPENAPI_FILE, "utf8")).toBe(renderOpenApi());
  });

  it("the router, the stack, the OpenAPI description and the client all serve exactly the contract's routes", async () => {
    const routes = keysOf(api);
    expect(routes.length).toBeGreaterThanOrEqual(15);
    expect(await routerServes(api)).toEqual(routes);
    expect(stackServes(api)).toEqual(routes);
    expect(described(api)).toEqual(routes);
    expect(await clientCalls(api)).toEqual(routes);
  });

  it("removing a route from the definition removes it from the router, the stack, the OpenAPI description and the client", async () => {
    const less = without(api, "move", "kvChanges");
    const remaining = keysOf(less);
    expect(remaining).not.toContain("PUT /sessions/{sessionId}");
    expect(remaining).toHaveLength(keysOf(api).length - 2);
    expect(await routerServes(less)).toEqual(remaining);
    expect(stackServes(less)).toEqual(remaining);
    expect(described(less)).toEqual(remaining);
    expect(await clientCalls(less)).toEqual(remaining);
  });

  it("the Api function's handler serves every route of the contract and answers 404 to any other", async () => {
    Object.assign(process.env, {
      REPLICA_IDS: "Replica1,Replica2,Replica3",
      REPLICA_FUNCTIONS: "r1,r2,r3",
      CHANGE_COUNTER_TABLE: "Changes",
      IDEMPOTENCY_TABLE: "Idempotency",
      LEASE_TABLE: "Leases",
      SERVER_TABLE: "Servers",
      // Nothing listens there: a route that reaches DynamoDB fails fast instead of answering 404.
      AWS_ENDPOINT_URL: "http://127.0.0.1:9",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_MAX_ATTEMPTS: "1",
      POWERTOOLS_METRICS_DISABLED: "true",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    });
    const { handler } = await import("../../packages/cdk/handlers/api.ts");
    for (const key of keysOf(api)) {
      const answer = await handler(event(key));
      expect(`${key} ${answer.statusCode}`).not.toBe(`${key} 404`);
    }
    const unknown = await handler(event("DELETE /kv/{key}"));
    expect(unknown.statusCode).toBe(404);
    expect(JSON.parse(String(unknown.body)).error.code).toBe("RouteNotFound");
  });
});
