/**
 * A WebSocket API's routes are never served as HTTP routes (its `$default` would answer any path with
 * 200), whatever their integration's target: they are the WebSocket API's, beside an HTTP API's routes.
 */
import { describe, expect, it } from "vitest";
import type { LocalFunction } from "../../src/functions.ts";
import { readRoutes } from "../../src/http-api.ts";
import { FunctionRegistry } from "../../src/lambda-api.ts";
import type { Skipped } from "../../src/support.ts";
import { Template } from "../../src/template.ts";
import { readWebSocketApis } from "../../src/websocket-api.ts";

const ARN = "arn:aws:lambda:us-east-1:000000000000:function:echo";
const integration = (api: string) => ({
  Type: "AWS::ApiGatewayV2::Integration",
  Properties: {
    ApiId: { Ref: api },
    IntegrationType: "AWS_PROXY",
    IntegrationUri: ARN,
    PayloadFormatVersion: "1.0",
  },
});

describe("a template with a WebSocket API whose integrations target a plain function ARN", () => {
  it("serves only the HTTP API's routes as HTTP; the WebSocket routes go to the WebSocket API", () => {
    const template = new Template(
      {
        Resources: {
          Sockets: {
            Type: "AWS::ApiGatewayV2::Api",
            Properties: {
              Name: "sockets",
              ProtocolType: "WEBSOCKET",
              RouteSelectionExpression: "$request.body.action",
            },
          },
          SocketsIntegration: integration("Sockets"),
          SocketsStage: {
            Type: "AWS::ApiGatewayV2::Stage",
            Properties: { ApiId: { Ref: "Sockets" }, StageName: "dev", AutoDeploy: true },
          },
          SocketsDefault: {
            Type: "AWS::ApiGatewayV2::Route",
            Properties: {
              ApiId: { Ref: "Sockets" },
              RouteKey: "$default",
              Target: "integrations/SocketsIntegration",
            },
          },
          SocketsConnect: {
            Type: "AWS::ApiGatewayV2::Route",
            Properties: {
              ApiId: { Ref: "Sockets" },
              RouteKey: "$connect",
              Target: "integrations/SocketsIntegration",
            },
          },
          Http: { Type: "AWS::ApiGatewayV2::Api", Properties: { Name: "http", ProtocolType: "HTTP" } },
          HttpIntegration: {
            ...integration("Http"),
            Properties: { ...integration("Http").Properties, PayloadFormatVersion: "2.0" },
          },
          HttpHello: {
            Type: "AWS::ApiGatewayV2::Route",
            Properties: {
              ApiId: { Ref: "Http" },
              RouteKey: "GET /hello",
              Target: "integrations/HttpIntegration",
            },
          },
        },
      },
      "Stack",
      "Stack-abc",
    );
    const echo = { id: "Echo", name: "echo", arn: ARN } as unknown as LocalFunction;
    const skipped: Skipped[] = [];
    const routes = readRoutes(template, new FunctionRegistry([echo]), (item) => skipped.push(item));
    expect(routes.map((route) => route.routeKey)).toEqual(["GET /hello"]);
    const [sockets, ...others] = readWebSocketApis(template, new FunctionRegistry([echo]), (item) =>
      skipped.push(item),
    );
    expect(others).toEqual([]);
    expect(sockets).toMatchObject({ logicalId: "Sockets", stage: "dev", selection: ["action"] });
    expect([...sockets!.routes.keys()].sort()).toEqual(["$connect", "$default"]);
    expect(sockets!.routes.get("$default")?.fn).toBe(echo);
    expect(skipped).toEqual([]);
  });
});
