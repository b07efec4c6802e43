/**
 * A WebSocket API run as a user would (`npm start -- --app test/fixtures/websocket-echo`): $connect with
 * its query string and headers (and refusing), route selection on `$request.body.action` with
 * `$default`, a route response, replies through the @connections API from a function (the stage's
 * callbackUrl), the management API from outside (POST, GET, DELETE, Gone), $disconnect.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type AppProcess, runStart } from "../support/app-process.ts";
import { eventually } from "../support/local-cloud.ts";

/** A connected client that keeps every message it receives. */
async function connect(url: string, headers: Record<string, string> = {}) {
  const socket = new WebSocket(url, { headers });
  const received: unknown[] = [];
  socket.on("message", (data) => received.push(JSON.parse(data.toString())));
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const next = (count: number) =>
    eventually(
      async () => received.length,
      (length) => length >= count,
      10_000,
    );
  return { socket, received, next, closed };
}

/** The status a refused handshake was answered with. */
function refusedWith(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
    socket.on("open", () => reject(new Error("the handshake was accepted")));
    socket.on("error", () => {});
  });
}

describe("a WebSocket echo API", () => {
  let app: AppProcess;
  let url: string;
  let dynamodb: DynamoDBClient;
  let management: ApiGatewayManagementApiClient;
  const connections = async () =>
    (await dynamodb.send(new ScanCommand({ TableName: app.outputs.ConnectionsTable! }))).Items!.map((item) =>
      unmarshall(item),
    );
  beforeAll(async () => {
    app = await runStart(["--app", "test/fixtures/websocket-echo"], 120_000);
    url = app.outputs.WebSocketUrl!;
    const config = { region: LOCAL_REGION, credentials: localCredentials("local"), maxAttempts: 1 };
    dynamodb = new DynamoDBClient({ ...config, endpoint: app.dynamodbUrl });
    management = new ApiGatewayManagementApiClient({ ...config, endpoint: app.outputs.CallbackUrl });
  }, 150_000);
  afterAll(async () => {
    dynamodb?.destroy();
    management?.destroy();
    await app?.stop();
  });

  it("prints the ws:// URL at start and in the stack outputs, and serves no HTTP route", async () => {
    expect(url).toBe(`${app.apiUrl.replace("http", "ws")}/dev`);
    expect(app.outputs.CallbackUrl).toBe(`${app.apiUrl}/dev`);
    expect(app.output()).toContain(`WebSocket API    ${url}`);
    expect(app.output()).toContain("HTTP API routes (0)");
    for (const path of ["/", "/dev", "/anything", "/dev/echo"])
      expect((await fetch(`${app.apiUrl}${path}`)).status).toBe(404);
    expect(app.skipped).toEqual([]);
  });

  it("refuses a connection its $connect route answers with 401", async () => {
    expect(await refusedWith(`${url}?token=wrong`)).toBe(401);
    expect(await refusedWith(`${app.apiUrl.replace("http", "ws")}/no-such-stage`)).toBe(404);
  });

  it("runs $connect with the query string and headers, routes messages, and $disconnect on close", async () => {
    const client = await connect(`${url}?token=let-me-in&name=ann`, { "x-client": "e2e" });
    const [row] = await eventually(connections, (rows) => rows.length === 1);
    expect(row).toMatchObject({ name: "ann", client: "e2e", eventType: "CONNECT", routeKey: "$connect" });
    expect(row!.connectionId).toMatch(/^[A-Za-z0-9+/]{15}=$/);

    client.socket.send(JSON.stringify({ action: "echo", text: "hello" }));
    await client.next(1);
    client.socket.send(JSON.stringify({ action: "whoami" }));
    await client.next(2);
    client.socket.send(JSON.stringify({ action: "nobody-routes-this" }));
    await client.next(3);
    client.socket.send("not JSON at all");
    await client.next(4);
    expect(client.received).toEqual([
      { echo: "hello", routeKey: "echo", eventType: "MESSAGE" },
      { connectionId: row!.connectionId, stage: "dev" },
      { unrouted: JSON.stringify({ action: "nobody-routes-this" }), routeKey: "$default" },
      { unrouted: "not JSON at all", routeKey: "$default" },
    ]);

    client.socket.close();
    expect(await client.closed).toBe(1005);
    await eventually(connections, (rows) => rows.length === 0);
  });

  it("serves the @connections API: post to, describe and delete a connection; a closed one is gone", async () => {
    const client = await connect(`${url}?token=let-me-in&name=bob`);
    const [row] = await eventually(connections, (rows) => rows.some((item) => item.name === "bob"));
    const ConnectionId = row!.connectionId as string;

    await management.send(
      new PostToConnectionCommand({ ConnectionId, Data: Buffer.from(JSON.stringify({ pushed: 1 })) }),
    );
    await client.next(1);
    expect(client.received).toEqual([{ pushed: 1 }]);

    const described = await management.send(new GetConnectionCommand({ ConnectionId }));
    expect(described.ConnectedAt).toBeInstanceOf(Date);
    expect(described.Identity?.SourceIp).toBe("127.0.0.1");

    await management.send(new DeleteConnectionCommand({ ConnectionId }));
    expect(await client.closed).toBe(1000);
    await eventually(connections, (rows) => !rows.some((item) => item.name === "bob"));
    await expect(
      management.send(new PostToConnectionCommand({ ConnectionId, Data: Buffer.from("late") })),
    ).rejects.toBeInstanceOf(GoneException);
  });
});
