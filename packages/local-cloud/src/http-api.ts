/**
 * The template's APIs on one local HTTP server:
 * - HTTP APIs (v2): routes ("GET /sessions/{sessionId}", "ANY /{proxy+}", "$default") from
 *   AWS::ApiGatewayV2::Route, Lambda proxy integrations with payload 2.0 or 1.0, the API's CORS
 *   configuration (preflights answered by the API, headers added to responses);
 * - REST APIs (v1, rest-api.ts): Lambda proxy (payload 1.0) and mock integrations under their stage.
 * A route that cannot run here is skipped with its reason; nothing aborts start-up.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type LocalIdentity, verifySigV4 } from "./auth.ts";
import { STATUS_TEXT, serveGracefully } from "./http-server.ts";
import { type FunctionRegistry, PayloadTooLarge, readBody, refuseTooLarge } from "./lambda-api.ts";
import { readRestRoutes } from "./rest-api.ts";
import { type LocalRoute, pathPattern } from "./routes.ts";
import type { Skipped } from "./support.ts";
import type { Template } from "./template.ts";

export type { LocalRoute } from "./routes.ts";

/** An HTTP API's CORS configuration (AWS::ApiGatewayV2::Api CorsConfiguration). */
export interface CorsConfig {
  allowOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAge?: number;
  allowCredentials: boolean;
}

/** API Gateway's own limit on an integration. */
export const INTEGRATION_TIMEOUT_MS = 30_000;
/** API Gateway's limit on a request's payload (HTTP APIs). */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

class MalformedPath extends Error {}

export function readRoutes(
  template: Template,
  registry: FunctionRegistry,
  skip: (skipped: Skipped) => void = () => {},
): LocalRoute[] {
  const routes = template
    .resourcesOfType("AWS::ApiGatewayV2::Route")
    .flatMap(([logicalId, resource]): LocalRoute[] => {
      const props = resource.Properties ?? {};
      const routeKey = template.resolveString(props.RouteKey);
      try {
        // A WebSocket API's routes are not HTTP routes (served as such, `$default` would answer any
        // path): websocket-api.ts serves them.
        const apiId = (props.ApiId as { Ref?: unknown } | undefined)?.Ref;
        if (typeof apiId === "string" && template.resource(apiId).Properties?.ProtocolType === "WEBSOCKET")
          return [];
        const api = template.resolveString(props.ApiId);
        const integrationId = template.resolveString(props.Target).replace(/^integrations\//, "");
        const integration = template.resource(integrationId).Properties ?? {};
        const payload = String(integration.PayloadFormatVersion ?? "2.0") as LocalRoute["payload"];
        if (integration.IntegrationType !== "AWS_PROXY" || (payload !== "2.0" && payload !== "1.0"))
          throw new Error("only Lambda proxy integrations (payload 2.0 or 1.0) run locally");
        const fn = registry.require(template.resolveString(integration.IntegrationUri));
        const authorization = String(props.AuthorizationType ?? "NONE") as LocalRoute["authorization"];
        if (authorization !== "NONE" && authorization !== "AWS_IAM")
          throw new Error(`authorization ${authorization} does not run locally (NONE and AWS_IAM do)`);
        const common = { routeKey, api, kind: "http" as const, authorization, payload, fn };
        if (routeKey === "$default") return [{ ...common, method: "ANY", params: [] }];
        const [method = "", path = ""] = routeKey.split(" ");
        return [{ ...common, method, path, ...pathPattern(path) }];
      } catch (error) {
        skip({ logicalId, type: resource.Type, reason: `${routeKey}: ${(error as Error).message}` });
        return [];
      }
    });
  // API Gateway prefers the most specific route: literal paths before parameters, greedy ones last.
  const rank = (route: LocalRoute) =>
    route.routeKey === "$default" ? 3 : route.path?.includes("+}") ? 2 : route.params.length ? 1 : 0;
  return [...routes, ...readRestRoutes(template, registry, skip)].sort((a, b) => rank(a) - rank(b));
}

/** The CORS configuration of each HTTP API that has one. */
export function readCors(template: Template): Map<string, CorsConfig> {
  const configs = new Map<string, CorsConfig>();
  for (const [logicalId, resource] of template.resourcesOfType("AWS::ApiGatewayV2::Api")) {
    const cors = template.resolve(resource.Properties?.CorsConfiguration) as
      | Record<string, unknown>
      | undefined;
    if (!cors) continue;
    const list = (value: unknown) => ((value as unknown[] | undefined) ?? []).map(String);
    configs.set(logicalId, {
      allowOrigins: list(cors.AllowOrigins),
      allowMethods: list(cors.AllowMethods).map((method) => method.toUpperCase()),
      allowHeaders: list(cors.AllowHeaders).map((header) => header.toLowerCase()),
      exposeHeaders: list(cors.ExposeHeaders),
      maxAge: cors.MaxAge === undefined ? undefined : Number(cors.MaxAge),
      allowCredentials: cors.AllowCredentials === true,
    });
  }
  return configs;
}

/** The CORS headers an HTTP API adds for this origin, or undefined when the origin is not allowed. */
function corsHeaders(cors: CorsConfig, origin: string): Record<string, string> | undefined {
  const any = cors.allowOrigins.includes("*");
  if (!any && !cors.allowOrigins.includes(origin)) return undefined;
  const headers: Record<string, string> = {
    "access-control-allow-origin": any && !cors.allowCredentials ? "*" : origin,
  };
  if (cors.allowCredentials) headers["access-control-allow-credentials"] = "true";
  if (cors.exposeHeaders.length) headers["access-control-expose-headers"] = cors.exposeHeaders.join(",");
  return headers;
}

/** API Gateway answers an HTTP API's CORS preflight itself, without calling any route. */
function preflight(cors: CorsConfig, request: IncomingMessage) {
  const origin = String(request.headers.origin ?? "");
  const headers = corsHeaders(cors, origin);
  const method = String(request.headers["access-control-request-method"] ?? "").toUpperCase();
  const requested = String(request.headers["access-control-request-headers"] ?? "")
    .split(",")
    .map((header) => header.trim().toLowerCase())
    .filter(Boolean);
  const methodOk = cors.allowMethods.includes("*") || cors.allowMethods.includes(method);
  const headersOk =
    cors.allowHeaders.includes("*") || requested.every((header) => cors.allowHeaders.includes(header));
  if (!headers || !methodOk || !headersOk) return { status: 204, headers: {} };
  return {
    status: 204,
    headers: {
      ...headers,
      "access-control-allow-methods": cors.allowMethods.join(","),
      ...(cors.allowHeaders.length ? { "access-control-allow-headers": cors.allowHeaders.join(",") } : {}),
      ...(cors.maxAge !== undefined ? { "access-control-max-age": String(cors.maxAge) } : {}),
    },
  };
}

function match(routes: LocalRoute[], method: string, path: string) {
  for (const route of routes) {
    if (route.method !== "ANY" && route.method !== method) continue;
    if (!route.pattern) return { route, pathParameters: undefined };
    const found = route.pattern.exec(path);
    if (!found) continue;
    const pathParameters = Object.fromEntries(
      route.params.map((name, index) => {
        try {
          return [name, decodeURIComponent(found[index + 1]!)];
        } catch {
          throw new MalformedPath(`malformed percent-encoding in ${path}`);
        }
      }),
    );
    return { route, pathParameters: route.params.length ? pathParameters : undefined };
  }
  return undefined;
}

const TEXT_TYPES = /^(application\/(json|xml|x-www-form-urlencoded|.*\+json)|text\/)/i;

function toEvent(
  request: IncomingMessage,
  body: Buffer,
  routeKey: string,
  requestId: string,
  pathParameters?: Record<string, string>,
  caller?: string,
) {
  const url = new URL(request.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && name !== "cookie")
      headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const contentType = String(request.headers["content-type"] ?? "application/json");
  const isBase64Encoded = body.length > 0 && !TEXT_TYPES.test(contentType);
  const now = new Date();
  return {
    version: "2.0",
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    cookies: request.headers.cookie?.split(";").map((cookie) => cookie.trim()),
    headers,
    queryStringParameters: url.search ? query : undefined,
    pathParameters,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method: request.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId,
      ...(caller
        ? {
            authorizer: {
              iam: {
                accessKey: caller,
                accountId: "000000000000",
                callerId: caller,
                principalOrgId: null,
                userArn: `arn:aws:iam::000000000000:user/${caller}`,
                userId: caller,
              },
            },
          }
        : {}),
      routeKey,
      stage: "$default",
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: body.length ? body.toString(isBase64Encoded ? "base64" : "utf8") : undefined,
    isBase64Encoded,
  };
}

/** A payload 1.0 event: REST APIs' Lambda proxy format, and HTTP APIs' when the integration asks for it. */
function toEventV1(
  request: IncomingMessage,
  body: Buffer,
  route: LocalRoute,
  requestId: string,
  pathParameters?: Record<string, string>,
  caller?: string,
) {
  const url = new URL(request.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.at(-1)!;
    multiValueHeaders[name] = values;
  }
  const query: Record<string, string> = {};
  const multiValueQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    multiValueQuery[name] = [...(multiValueQuery[name] ?? []), value];
  }
  const contentType = String(request.headers["content-type"] ?? "application/json");
  const isBase64Encoded = body.length > 0 && !TEXT_TYPES.test(contentType);
  const stage = route.stage ?? "$default";
  // The path the function sees has no stage prefix (and no /restapis/{id} prefix).
  const path =
    route.kind === "rest" ? url.pathname.replace(/^(\/restapis\/[^/]+)?\/[^/]+/, "") || "/" : url.pathname;
  const now = new Date();
  return {
    version: "1.0",
    resource: route.path ?? path,
    path,
    httpMethod: request.method ?? "GET",
    headers,
    multiValueHeaders,
    queryStringParameters: url.search ? query : null,
    multiValueQueryStringParameters: url.search ? multiValueQuery : null,
    pathParameters: pathParameters ?? null,
    stageVariables: null,
    requestContext: {
      accountId: "000000000000",
      apiId: route.api,
      resourcePath: route.path ?? path,
      httpMethod: request.method ?? "GET",
      path: url.pathname,
      protocol: `HTTP/${request.httpVersion}`,
      stage,
      requestId,
      requestTime: now.toISOString(),
      requestTimeEpoch: now.getTime(),
      identity: {
        sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
        accessKey: caller ?? null,
        caller: caller ?? null,
        user: caller ?? null,
        userArn: caller ? `arn:aws:iam::000000000000:user/${caller}` : null,
      },
    },
    body: body.length ? body.toString(isBase64Encoded ? "base64" : "utf8") : null,
    isBase64Encoded,
  };
}

/** Payload 1.0 response mapping; a result that is not one is the integration's failure (undefined). */
function toResponseV1(payload: unknown) {
  if (payload === null || typeof payload !== "object" || !("statusCode" in payload)) return undefined;
  const result = payload as StructuredResult & { multiValueHeaders?: Record<string, unknown[]> };
  const status = Number(result.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599) return undefined;
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[name.toLowerCase()] = values.map(String).join(", ");
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  const body = Buffer.from(result.body ?? "", result.isBase64Encoded ? "base64" : "utf8");
  return { status, headers, body };
}

interface StructuredResult {
  statusCode?: number;
  headers?: Record<string, string | number | boolean>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

/** Payload 2.0 response mapping, including the format's inference for results without statusCode. */
function toResponse(payload: unknown): { status: number; headers: Record<string, string>; body: Buffer } {
  if (payload !== null && typeof payload === "object" && "statusCode" in payload) {
    const result = payload as StructuredResult;
    const headers = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)]));
    if (result.cookies?.length) headers["set-cookie"] = result.cookies.join(", ");
    const body = Buffer.from(result.body ?? "", result.isBase64Encoded ? "base64" : "utf8");
    return { status: Number(result.statusCode), headers, body };
  }
  const text = typeof payload === "string" ? payload : JSON.stringify(payload);
  return { status: 200, headers: { "content-type": "application/json" }, body: Buffer.from(text ?? "") };
}

/** One answered request, as the console lists it. */
export interface RequestRecord {
  at: number;
  method: string;
  path: string;
  /** The route that served it ("PUT /kv/{key}"), if one matched. */
  routeKey?: string;
  status: number;
  ms: number;
  /** The error code of a JSON error answer, if any. */
  code?: string;
}

export interface HttpApiExtras {
  /** Serves a local-only page under its own prefix (the console); answers whether it handled it. */
  local?: {
    prefix: string;
    handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void>;
  };
  /** Told of every answered request of a route. */
  onAnswer?: (record: RequestRecord) => void;
  /** Consulted before the routes (the WebSocket APIs' @connections): answers whether it handled it. */
  before?: (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<boolean>;
}

/** API Gateway HTTP API's quota: the request line and the header values together, in bytes. */
export const MAX_REQUEST_LINE_AND_HEADERS = 10_240;
/** What Node.js parses at all; beyond it the parser itself refuses (see answerClientError in http-server.ts). */
const MAX_PARSED_HEADER_BYTES = 1024 * 1024;

/** 414 when the request line alone is over the quota, 431 when the headers take it over; else undefined. */
function overHeaderLimits(request: IncomingMessage): 414 | 431 | undefined {
  const line = Buffer.byteLength(`${request.method} ${request.url} HTTP/${request.httpVersion}`);
  if (line > MAX_REQUEST_LINE_AND_HEADERS) return 414;
  let total = line;
  for (let i = 1; i < request.rawHeaders.length; i += 2) total += Buffer.byteLength(request.rawHeaders[i]!);
  return total > MAX_REQUEST_LINE_AND_HEADERS ? 431 : undefined;
}

export function startHttpApi(
  routes: LocalRoute[],
  port: number,
  host: string,
  identity: LocalIdentity,
  cors: Map<string, CorsConfig> = new Map(),
  extras: HttpApiExtras = {},
): Promise<Server> {
  const server = createServer({ maxHeaderSize: MAX_PARSED_HEADER_BYTES }, async (request, response) => {
    // API Gateway names every answer's request id (the event's requestContext.requestId) in a header.
    const requestId = randomUUID();
    let extraHeaders: Record<string, string> = { "apigw-requestid": requestId };
    const started = Date.now();
    let routeKey: string | undefined;
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/json", ...extraHeaders, ...headers });
      const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      response.end(bytes);
      if (extras.onAnswer && routeKey)
        extras.onAnswer({
          at: started,
          method: request.method ?? "GET",
          path: (request.url ?? "/").split("?")[0]!,
          routeKey,
          status,
          ms: Date.now() - started,
          code: status >= 400 ? errorCodeOf(bytes) : undefined,
        });
    };
    const over = overHeaderLimits(request);
    if (over) {
      // Answered without reading the body; the connection closes after the answer.
      response.shouldKeepAlive = false;
      return reply(over, { message: STATUS_TEXT[over] }, { connection: "close" });
    }
    try {
      const url = new URL(request.url ?? "/", "http://localhost");
      const local = extras.local;
      if (local && (url.pathname === local.prefix || url.pathname.startsWith(`${local.prefix}/`)))
        return await local.handle(request, response, url);
      if (extras.before && (await extras.before(request, response, url))) return;
      let body: Buffer;
      try {
        body = await readBody(request, MAX_REQUEST_BYTES);
      } catch (error) {
        if (error instanceof PayloadTooLarge)
          return refuseTooLarge(response, { message: "Request Entity Too Large" });
        throw error;
      }
      let found: ReturnType<typeof match>;
      try {
        found = match(routes, request.method ?? "GET", url.pathname);
      } catch (error) {
        if (error instanceof MalformedPath) return reply(400, { message: "Bad Request" });
        throw error;
      }
      // An HTTP API with CORS answers preflights itself, and adds its headers to every answer.
      const apiCors =
        found?.route.kind === "rest"
          ? undefined
          : (cors.get(found?.route.api ?? "") ?? (cors.size === 1 ? [...cors.values()][0] : undefined));
      if (apiCors && request.method === "OPTIONS" && request.headers["access-control-request-method"]) {
        const answer = preflight(apiCors, request);
        response.writeHead(answer.status, answer.headers);
        return response.end();
      }
      if (apiCors && request.headers.origin)
        extraHeaders = { ...extraHeaders, ...corsHeaders(apiCors, String(request.headers.origin)) };
      if (!found) {
        // A REST API answers a path it does not have with 403, as API Gateway does.
        const restBase =
          routes.some(
            (route) => route.kind === "rest" && `${url.pathname}/`.startsWith(`/${route.stage}/`),
          ) || url.pathname.startsWith("/restapis/");
        return restBase
          ? reply(
              403,
              { message: "Missing Authentication Token" },
              { "x-amzn-errortype": "MissingAuthenticationTokenException" },
            )
          : reply(404, { message: "Not Found" });
      }
      const { route } = found;
      routeKey = route.routeKey;
      const rest = route.kind === "rest";
      if (rest) {
        // A REST API's header for it is x-amzn-RequestId.
        delete extraHeaders["apigw-requestid"];
        extraHeaders["x-amzn-requestid"] = requestId;
      }
      let caller: string | undefined;
      if (route.authorization === "AWS_IAM") {
        const verdict = await verifySigV4(request, body, identity);
        if (!verdict.ok)
          return reply(403, { message: verdict.message }, { "x-amzn-errortype": "ForbiddenException" });
        caller = verdict.accessKeyId;
      }
      if (route.mock) {
        const echoed = Object.fromEntries(
          Object.entries(route.mock.echo).map(([header, from]) => [
            header,
            String(request.headers[from] ?? ""),
          ]),
        );
        return reply(route.mock.status, Buffer.from(route.mock.body), { ...route.mock.headers, ...echoed });
      }
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), INTEGRATION_TIMEOUT_MS);
      const event =
        route.payload === "1.0"
          ? toEventV1(request, body, route, requestId, found.pathParameters, caller)
          : toEvent(request, body, route.routeKey, requestId, found.pathParameters, caller);
      const result = await route.fn!.invoke(event, abort.signal);
      clearTimeout(timer);
      if (abort.signal.aborted)
        return rest
          ? reply(504, { message: "Endpoint request timed out" })
          : reply(503, { message: "Service Unavailable" });
      if (!result.ok && result.error?.errorType === "RequestEntityTooLargeException")
        return reply(413, { message: "Request Entity Too Large" });
      // REST APIs answer a failed or malformed Lambda proxy result with 502; HTTP APIs with 500.
      if (!result.ok)
        return rest
          ? reply(502, { message: "Internal server error" })
          : reply(500, { message: "Internal Server Error" });
      const mapped = route.payload === "1.0" ? toResponseV1(result.payload) : toResponse(result.payload);
      if (!mapped)
        return rest
          ? reply(502, { message: "Internal server error" })
          : reply(500, { message: "Internal Server Error" });
      reply(mapped.status, mapped.body, mapped.headers);
    } catch {
      reply(500, { message: "Internal Server Error" });
    }
  });
  serveGracefully(server);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** The `error.code` of a JSON error answer (this API's shape), else undefined. */
function errorCodeOf(body: Buffer): string | undefined {
  if (body.length > 64 * 1024) return undefined;
  try {
    const code = (JSON.parse(body.toString("utf8")) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}
