/**
 * API Gateway WebSocket APIs (AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET), on the HTTP API's
 * port: a client connects to ws://host:port/{stage}. `$connect` runs before the handshake completes (a
 * non-2xx answer or an error refuses it, with that status), `$disconnect` after a close, and every
 * message goes to the route its RouteSelectionExpression picks (`$request.body.action`), else to
 * `$default`; with neither, the client is told "Forbidden", as API Gateway does. A route with a route
 * response sends its integration's body back. The events have Lambda's WebSocket shape
 * (requestContext.connectionId, eventType, routeKey, ...).
 *
 * The management API is served as `https://{api}.execute-api.{region}.amazonaws.com/{stage}` would be:
 * POST, GET and DELETE /{stage}/@connections/{connectionId} (410 GoneException for a connection that is
 * not open). A stage's callbackUrl resolves to it, and with one WebSocket stage,
 * AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI points at it.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { LocalFunction } from "./functions.ts";
import type { FunctionRegistry } from "./lambda-api.ts";
import type { Skipped } from "./support.ts";
import type { Template } from "./template.ts";

export interface WebSocketRoute {
  logicalId: string;
  routeKey: string;
  fn: LocalFunction;
  /** A route response exists: the integration's answer is sent back to the client. */
  respond: boolean;
}

export interface LocalWebSocketApi {
  logicalId: string;
  stage: string;
  /** `$request.body.action` and the like: the path into the message's JSON body that picks the route. */
  selection: string[];
  routes: Map<string, WebSocketRoute>;
}

/** Only this form of route selection is evaluated (API Gateway's only one for JSON messages). */
const SELECTION = /^\$request\.body\.([\w.]+)$/;

/** The WebSocket APIs of the template, with their routes and stage; what cannot run is skipped. */
export function readWebSocketApis(
  template: Template,
  registry: FunctionRegistry,
  skip: (skipped: Skipped) => void = () => {},
): LocalWebSocketApi[] {
  const apis: LocalWebSocketApi[] = [];
  for (const [logicalId, resource] of template.resourcesOfType("AWS::ApiGatewayV2::Api")) {
    const props = resource.Properties ?? {};
    if (props.ProtocolType !== "WEBSOCKET") continue;
    try {
      const expression = template.resolveString(props.RouteSelectionExpression);
      const selection = SELECTION.exec(expression)?.[1]?.split(".");
      if (!selection)
        throw new Error(`route selection ${expression} is not evaluated locally ($request.body.<field> is)`);
      const stages = template
        .resourcesOfType("AWS::ApiGatewayV2::Stage")
        .filter(([, stage]) => refersTo(stage.Properties?.ApiId, logicalId))
        .map(([, stage]) => template.resolveString(stage.Properties?.StageName));
      const stage = stages[0];
      if (!stage) throw new Error("the API has no stage: a client has nowhere to connect");
      if (apis.some((api) => api.stage === stage))
        throw new Error(`another WebSocket API already serves the stage ${stage} locally`);
      apis.push({ logicalId, stage, selection, routes: new Map() });
    } catch (error) {
      skip({ logicalId, type: resource.Type, reason: (error as Error).message });
    }
  }
  const responses = new Set(
    template
      .resourcesOfType("AWS::ApiGatewayV2::RouteResponse")
      .map(([, response]) => (response.Properties?.RouteId as { Ref?: string } | undefined)?.Ref),
  );
  for (const [logicalId, resource] of template.resourcesOfType("AWS::ApiGatewayV2::Route")) {
    const props = resource.Properties ?? {};
    const api = apis.find((candidate) => refersTo(props.ApiId, candidate.logicalId));
    if (!api) continue;
    const routeKey = template.resolveString(props.RouteKey);
    try {
      const integrationId = template.resolveString(props.Target).replace(/^integrations\//, "");
      const integration = template.resource(integrationId).Properties ?? {};
      if (integration.IntegrationType !== "AWS_PROXY")
        throw new Error(
          `integration type ${integration.IntegrationType} does not run locally (AWS_PROXY does)`,
        );
      const uri = template.resolveString(integration.IntegrationUri);
      // API Gateway's Lambda URI (…:lambda:path/2015-03-31/functions/{arn}/invocations), or the ARN.
      const fn = registry.require(/functions\/(.+)\/invocations$/.exec(uri)?.[1] ?? uri);
      api.routes.set(routeKey, { logicalId, routeKey, fn, respond: responses.has(logicalId) });
    } catch (error) {
      skip({ logicalId, type: resource.Type, reason: `${routeKey}: ${(error as Error).message}` });
    }
  }
  return apis;
}

/** The stage names of the template's WebSocket APIs. */
export function webSocketStages(template: Template): string[] {
  return template
    .resourcesOfType("AWS::ApiGatewayV2::Stage")
    .filter(([, stage]) => {
      const apiId = (stage.Properties?.ApiId as { Ref?: unknown } | undefined)?.Ref;
      return typeof apiId === "string" && isWebSocketApi(template, apiId);
    })
    .map(([, stage]) => template.resolveString(stage.Properties?.StageName));
}

/** Whether a template value (`{Ref: id}`) names this resource. */
function refersTo(value: unknown, logicalId: string): boolean {
  return (value as { Ref?: unknown } | undefined)?.Ref === logicalId;
}

/** Does a resource's logical id name a WebSocket API (so that its execute-api URLs map to ws://)? */
export function isWebSocketApi(template: Template, logicalId: string): boolean {
  try {
    return template.resource(logicalId).Properties?.ProtocolType === "WEBSOCKET";
  } catch {
    return false;
  }
}

interface Connection {
  socket: WebSocket;
  api: LocalWebSocketApi;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
}

/** The WebSocket APIs on an HTTP server: upgrades, messages, and the @connections management API. */
export class WebSocketApis {
  private readonly server = new WebSocketServer({ noServer: true });
  private readonly connections = new Map<string, Connection>();
  private stopping = false;
  private readonly apis: LocalWebSocketApi[];
  private readonly host: string;
  private readonly log: (line: string) => void;

  constructor(apis: LocalWebSocketApi[], host: string, log: (line: string) => void) {
    this.apis = apis;
    this.host = host;
    this.log = log;
  }

  /** Takes the HTTP server's upgrade requests (a path that is no WebSocket stage is refused, 404). */
  attach(http: Server): void {
    http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.upgrade(request, socket, head).catch((error) => {
        this.log(`WebSocket connect failed: ${String(error)}`);
        refuse(socket, 500);
      });
    });
  }

  private apiOf(pathname: string): LocalWebSocketApi | undefined {
    const stage = /^\/([^/]+)\/?$/.exec(pathname)?.[1];
    return this.apis.find((api) => api.stage === stage);
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    const api = this.apiOf(url.pathname);
    if (!api || this.stopping) return refuse(socket, api ? 503 : 404);
    const connectionId = newConnectionId();
    const connectedAt = Date.now();
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [name, String(value)]),
    );
    const query = [...url.searchParams];
    const connection = {
      api,
      connectedAt,
      lastActiveAt: connectedAt,
      sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
      userAgent: headers["user-agent"] ?? "",
    };
    const route = api.routes.get("$connect");
    if (route) {
      const event = {
        headers,
        multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
        ...(query.length
          ? {
              queryStringParameters: Object.fromEntries(query),
              multiValueQueryStringParameters: query.reduce<Record<string, string[]>>((all, [k, v]) => {
                all[k] = [...(all[k] ?? []), v];
                return all;
              }, {}),
            }
          : {}),
        requestContext: this.context(api, connectionId, connection, "$connect", "CONNECT"),
        isBase64Encoded: false,
      };
      const result = await route.fn.invoke(event);
      const status = result.ok ? statusOf(result.payload) : 500;
      if (status < 200 || status > 299) return refuse(socket, status);
    }
    this.server.handleUpgrade(request, socket, head, (ws) => {
      this.connections.set(connectionId, { ...connection, socket: ws });
      ws.on("message", (data, isBinary) => {
        const entry = this.connections.get(connectionId);
        if (entry) entry.lastActiveAt = Date.now();
        void this.message(api, connectionId, isBinary ? Buffer.from(data as Buffer) : data.toString());
      });
      ws.on("close", (code, reason) => {
        this.connections.delete(connectionId);
        if (!this.stopping) void this.disconnect(api, connectionId, connection, code, reason.toString());
      });
    });
  }

  private context(
    api: LocalWebSocketApi,
    connectionId: string,
    connection: { connectedAt: number; sourceIp: string; userAgent: string },
    routeKey: string,
    eventType: "CONNECT" | "MESSAGE" | "DISCONNECT",
  ) {
    const now = new Date();
    return {
      routeKey,
      eventType,
      extendedRequestId: randomUUID(),
      requestTime: now.toUTCString(),
      messageDirection: "IN",
      stage: api.stage,
      connectedAt: connection.connectedAt,
      requestTimeEpoch: now.getTime(),
      identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
      requestId: randomUUID(),
      domainName: this.host,
      connectionId,
      apiId: api.logicalId,
    };
  }

  private async message(api: LocalWebSocketApi, connectionId: string, body: string | Buffer): Promise<void> {
    const connection = this.connections.get(connectionId);
    if (!connection) return;
    const text = typeof body === "string" ? body : body.toString("base64");
    let selected: unknown;
    try {
      selected = api.selection.reduce<unknown>(
        (value, key) => (value as Record<string, unknown> | undefined)?.[key],
        JSON.parse(text),
      );
    } catch {
      selected = undefined;
    }
    const route =
      (typeof selected === "string" ? api.routes.get(selected) : undefined) ?? api.routes.get("$default");
    const context = this.context(api, connectionId, connection, route?.routeKey ?? "$default", "MESSAGE");
    const answer = (message: string) =>
      connection.socket.send(JSON.stringify({ message, connectionId, requestId: context.requestId }));
    if (!route) return answer("Forbidden");
    const result = await route.fn.invoke({
      requestContext: { ...context, messageId: randomUUID() },
      body: text,
      isBase64Encoded: typeof body !== "string",
    });
    if (!result.ok) {
      this.log(
        `WebSocket ${route.routeKey} of ${route.fn.id} failed: ${result.error.errorType}: ${result.error.errorMessage}`,
      );
      return answer("Internal server error");
    }
    if (route.respond && connection.socket.readyState === connection.socket.OPEN) {
      const payload = result.payload as { body?: unknown } | null;
      const reply = payload && typeof payload === "object" && "body" in payload ? payload.body : payload;
      if (reply !== undefined && reply !== null)
        connection.socket.send(typeof reply === "string" ? reply : JSON.stringify(reply));
    }
  }

  private async disconnect(
    api: LocalWebSocketApi,
    connectionId: string,
    connection: { connectedAt: number; sourceIp: string; userAgent: string },
    code: number,
    reason: string,
  ): Promise<void> {
    const route = api.routes.get("$disconnect");
    if (!route) return;
    const result = await route.fn.invoke({
      headers: {},
      requestContext: {
        ...this.context(api, connectionId, connection, "$disconnect", "DISCONNECT"),
        disconnectStatusCode: code,
        disconnectReason: reason,
      },
      isBase64Encoded: false,
    });
    if (!result.ok)
      this.log(
        `WebSocket $disconnect of ${route.fn.id} failed: ${result.error.errorType}: ${result.error.errorMessage}`,
      );
  }

  /**
   * The management API: answers whether this request was one of its (POST, GET or DELETE
   * /{stage}/@connections/{id} on a WebSocket API's stage).
   */
  async handleManagement(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
    const found = /^\/([^/]+)\/@connections\/([^/]+)$/.exec(url.pathname);
    if (!found || !this.apis.some((api) => api.stage === found[1])) return false;
    const connectionId = decodeURIComponent(found[2]!);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const connection = this.connections.get(connectionId);
    const send = (status: number, body?: unknown, errorType?: string) => {
      response.writeHead(status, {
        "content-type": "application/json",
        "x-amzn-requestid": randomUUID(),
        ...(errorType ? { "x-amzn-errortype": errorType } : {}),
      });
      response.end(body === undefined ? "" : JSON.stringify(body));
    };
    if (!connection || connection.api.stage !== found[1]) {
      send(410, { message: `connection ${connectionId} is gone` }, "GoneException");
      return true;
    }
    if (request.method === "POST") {
      const data = Buffer.concat(chunks);
      // API Gateway's limit on a message sent to a connection.
      if (data.length > 128 * 1024) {
        send(413, { message: "Message too long (128 KB at most)" }, "PayloadTooLargeException");
        return true;
      }
      connection.socket.send(data.toString("utf8"));
      send(200);
    } else if (request.method === "GET") {
      // The service's JSON names (the SDK maps them to ConnectedAt, Identity, ...).
      send(200, {
        connectedAt: new Date(connection.connectedAt).toISOString(),
        lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
        identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
      });
    } else if (request.method === "DELETE") {
      connection.socket.close(1000, "closed by the @connections API");
      send(204);
    } else {
      send(405, { message: `${request.method} is not a method of @connections` }, "BadRequestException");
    }
    return true;
  }

  /** The open connections (for tests and the console). */
  get open(): number {
    return this.connections.size;
  }

  /** Closes every connection (going away) without running $disconnect: the functions are stopping. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const { socket } of this.connections.values()) socket.terminate();
    this.connections.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A connection id shaped as API Gateway's (16 base64 characters, ending in "="). */
function newConnectionId(): string {
  return randomBytes(11).toString("base64");
}

function statusOf(payload: unknown): number {
  const status = (payload as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : 200;
}

function refuse(socket: Duplex, status: number): void {
  const text =
    { 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable" }[status] ?? "Forbidden";
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}
