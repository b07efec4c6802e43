/**
 * API Gateway HTTP APIs (v2) of the template with Lambda proxy integrations, payload format 2.0: the
 * routes ("GET /sessions/{sessionId}", "ANY /{proxy+}", "$default") come from AWS::ApiGatewayV2::Route,
 * their targets from AWS::ApiGatewayV2::Integration.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { type LocalIdentity, verifySigV4 } from "./auth.ts";
import type { LocalFunction } from "./functions.ts";
import { type FunctionRegistry, PayloadTooLarge, readBody, refuseTooLarge } from "./lambda-api.ts";
import type { Template } from "./template.ts";

export interface LocalRoute {
  routeKey: string;
  /** NONE, or AWS_IAM: the request must be SigV4-signed with the local credentials (local/auth.ts). */
  authorization: "NONE" | "AWS_IAM";
  method: string;
  path?: string;
  pattern?: RegExp;
  params: string[];
  fn: LocalFunction;
}

/** API Gateway's own limit on an integration. */
const INTEGRATION_TIMEOUT_MS = 30_000;
/** API Gateway's limit on a request's payload (HTTP APIs). */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

class MalformedPath extends Error {}

export function readRoutes(template: Template, registry: FunctionRegistry): LocalRoute[] {
  const routes = template.resourcesOfType("AWS::ApiGatewayV2::Route").map(([, resource]) => {
    const props = resource.Properties ?? {};
    const routeKey = template.resolveString(props.RouteKey);
    const integrationId = template.resolveString(props.Target).replace(/^integrations\//, "");
    const integration = template.resource(integrationId).Properties ?? {};
    if (integration.IntegrationType !== "AWS_PROXY" || integration.PayloadFormatVersion !== "2.0") {
      throw new Error(`route ${routeKey}: only Lambda proxy integrations with payload 2.0 run locally`);
    }
    const fn = registry.require(template.resolveString(integration.IntegrationUri));
    const authorization = String(props.AuthorizationType ?? "NONE") as LocalRoute["authorization"];
    if (authorization !== "NONE" && authorization !== "AWS_IAM")
      throw new Error(
        `route ${routeKey}: authorization ${authorization} does not run locally (NONE and AWS_IAM do)`,
      );
    if (routeKey === "$default") return { routeKey, authorization, method: "ANY", params: [], fn };
    const [method = "", path = ""] = routeKey.split(" ");
    const params: string[] = [];
    const source = path
      .split("/")
      .map((segment) => {
        const match = /^\{([^}+]+)(\+?)\}$/.exec(segment);
        if (!match) return segment.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
        params.push(match[1]!);
        return match[2] ? "(.+)" : "([^/]+)";
      })
      .join("/");
    return { routeKey, authorization, method, path, pattern: new RegExp(`^${source}$`), params, fn };
  });
  // API Gateway prefers the most specific route: literal paths before parameters, greedy ones last.
  const rank = (route: LocalRoute) =>
    route.routeKey === "$default" ? 3 : route.path?.includes("+}") ? 2 : route.params.length ? 1 : 0;
  return routes.sort((a, b) => rank(a) - rank(b));
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
      requestId: randomUUID(),
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

export function startHttpApi(
  routes: LocalRoute[],
  port: number,
  host: string,
  identity: LocalIdentity,
): Promise<Server> {
  const server = createServer(async (request, response) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(Buffer.isBuffer(body) ? body : JSON.stringify(body));
    };
    try {
      const url = new URL(request.url ?? "/", "http://localhost");
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
      if (!found) return reply(404, { message: "Not Found" });
      let caller: string | undefined;
      if (found.route.authorization === "AWS_IAM") {
        const verdict = await verifySigV4(request, body, identity);
        if (!verdict.ok)
          return reply(403, { message: verdict.message }, { "x-amzn-errortype": "ForbiddenException" });
        caller = verdict.accessKeyId;
      }
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), INTEGRATION_TIMEOUT_MS);
      const result = await found.route.fn.invoke(
        toEvent(request, body, found.route.routeKey, found.pathParameters, caller),
        abort.signal,
      );
      clearTimeout(timer);
      if (abort.signal.aborted) return reply(503, { message: "Service Unavailable" });
      if (!result.ok && result.error?.errorType === "RequestEntityTooLargeException")
        return reply(413, { message: "Request Entity Too Large" });
      if (!result.ok) return reply(500, { message: "Internal Server Error" });
      const mapped = toResponse(result.payload);
      reply(mapped.status, mapped.body, mapped.headers);
    } catch {
      reply(500, { message: "Internal Server Error" });
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
