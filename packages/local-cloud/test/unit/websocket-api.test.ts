/**
 * The WebSocket API's own answers, with scripted functions (their code is not what is under test): a
 * message no route takes is "Forbidden", a failing integration "Internal server error", a $connect error
 * refuses the handshake with 500; what a template gives that cannot be served is skipped with its reason.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { InvokeResult, LocalFunction } from "../../src/functions.ts";
import { FunctionRegistry } from "../../src/lambda-api.ts";
import type { Skipped } from "../../src/support.ts";
import { Template } from "../../src/template.ts";
import { type LocalWebSocketApi, readWebSocketApis, WebSocketApis } from "../../src/websocket-api.ts";

const fnAnswering = (id: string, answer: (event: Record<string, unknown>) => InvokeResult) => {
  const events: Array<Record<string, unknown>> = [];
  const fn = {
    id,
    invoke: async (event: Record<string, unknown>) => {
      events.push(event);
      return answer(event);
    },
  } as unknown as LocalFunction;
  return { fn, events };
};
const failing: InvokeResult = { ok: false, error: { errorType: "Boom", errorMessage: "no" } };

let server: Server | undefined;
let apis: WebSocketApis | undefined;
afterEach(async () => {
  await apis?.stop();
  const open = server;
  if (open) {
    open.closeAllConnections();
    await new Promise((resolve) => open.close(resolve));
  }
  server = apis = undefined;
});

async function serve(routes: Record<string, LocalFunction>): Promise<string> {
  const api: LocalWebSocketApi = {
    logicalId: "Api",
    stage: "prod",
    selection: ["action"],
    routes: new Map(
      Object.entries(routes).map(([routeKey, fn]) => [
        routeKey,
        { logicalId: routeKey, routeKey, fn, respond: false },
      ]),
    ),
  };
  server = createServer((_request, response) => response.writeHead(404).end());
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  apis = new WebSocketApis([api], `127.0.0.1:${port}`, () => {});
  apis.attach(server);
  return `ws://127.0.0.1:${port}/prod`;
}

async function firstMessage(url: string, send: string): Promise<Record<string, unknown>> {
  const socket = new WebSocket(url);
  await new Promise((resolve) => socket.once("open", resolve));
  const message = new Promise<string>((resolve) =>
    socket.once("message", (data) => resolve(data.toString())),
  );
  socket.send(send);
  const text = await message;
  socket.close();
  return JSON.parse(text);
}

describe("the WebSocket API's own answers", () => {
  it("tells the client Forbidden when no route (and no $default) takes the message", async () => {
    const echo = fnAnswering("Echo", () => ({ ok: true, payload: null }));
    const url = await serve({ echo: echo.fn });
    const answer = await firstMessage(url, JSON.stringify({ action: "other" }));
    expect(answer).toEqual({
      message: "Forbidden",
      connectionId: expect.any(String),
      requestId: expect.any(String),
    });
    expect(echo.events).toEqual([]);
  });

  it("tells the client Internal server error when the route's function fails", async () => {
    const broken = fnAnswering("Broken", () => failing);
    const url = await serve({ $default: broken.fn });
    expect((await firstMessage(url, "hi")).message).toBe("Internal server error");
    expect(broken.events[0]).toMatchObject({
      body: "hi",
      isBase64Encoded: false,
      requestContext: { routeKey: "$default", eventType: "MESSAGE", stage: "prod", apiId: "Api" },
    });
  });

  it("refuses the handshake with 500 when $connect fails", async () => {
    const connect = fnAnswering("Connect", () => failing);
    const url = await serve({ $connect: connect.fn });
    const status = await new Promise<number>((resolve) => {
      const socket = new WebSocket(url);
      socket.on("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
      socket.on("error", () => {});
    });
    expect(status).toBe(500);
  });
});

describe("what a template's WebSocket API cannot serve", () => {
  const template = (api: Record<string, unknown>, withStage: boolean) =>
    new Template(
      {
        Resources: {
          Api: {
            Type: "AWS::ApiGatewayV2::Api",
            Properties: { Name: "ws", ProtocolType: "WEBSOCKET", ...api },
          },
          ...(withStage
            ? {
                Stage: {
                  Type: "AWS::ApiGatewayV2::Stage",
                  Properties: { ApiId: { Ref: "Api" }, StageName: "dev" },
                },
              }
            : {}),
        },
      },
      "Stack",
      "Stack-abc",
    );
  const read = (t: Template) => {
    const skipped: Skipped[] = [];
    const found = readWebSocketApis(t, new FunctionRegistry([]), (item) => skipped.push(item));
    return { found, reasons: skipped.map((item) => item.reason) };
  };

  it("skips an API with no stage, or whose route selection is not $request.body.<field>", () => {
    expect(read(template({ RouteSelectionExpression: "$request.body.action" }, false))).toEqual({
      found: [],
      reasons: ["the API has no stage: a client has nowhere to connect"],
    });
    expect(read(template({ RouteSelectionExpression: "$request.header.kind" }, true))).toEqual({
      found: [],
      reasons: ["route selection $request.header.kind is not evaluated locally ($request.body.<field> is)"],
    });
    expect(read(template({ RouteSelectionExpression: "$request.body.message.kind" }, true)).found).toEqual([
      expect.objectContaining({ stage: "dev", selection: ["message", "kind"] }),
    ]);
  });
});
