import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { z } from "zod";
import {
  type AnyRoute,
  ERROR_STATUS,
  FINAL_SERVER_ERRORS,
  PATH_PARAM_CODES,
  PATH_PARAM_SCHEMAS,
  type ParsedInput,
  pathParamsOf,
  type RouteOutput,
  routeKey,
} from "../api/contract.ts";
import { DomainError, type ErrorCode, fail } from "../errors.ts";
import { fingerprint, type IdempotentRequests } from "../idempotency/requests.ts";
import { numberProblem } from "../validation.ts";

/** What the router knows of a request beyond its event. */
export interface RequestRun {
  /** An earlier run with the same Idempotency-Key held it and died: it may have acted. */
  rerun: boolean;
}

type Route = (event: APIGatewayProxyEventV2, run?: RequestRun) => Promise<APIGatewayProxyStructuredResultV2>;

/** A route's logic: its validated input in, its answer out (the router makes the 200 and the errors). */
export type Handler<R extends AnyRoute> = (
  input: ParsedInput<R>,
  event: APIGatewayProxyEventV2,
  run: RequestRun,
) => Promise<RouteOutput<R>>;

/** One handler for every route of a contract: a missing or an extra one does not compile. */
export type Handlers<C extends Record<string, AnyRoute>> = { [N in keyof C]: Handler<C[N]> };

export function json(status: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode: status, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

export function errorResponse(error: DomainError): APIGatewayProxyStructuredResultV2 {
  return json(ERROR_STATUS[error.code], {
    error: { code: error.code, message: error.message, ...error.details },
  });
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The body as text. API Gateway passes a body with a text content type (application/json, text/*) as a
 * string, already decoded (bytes that are not UTF-8 arrive as U+FFFD; the README states it); any other
 * content type arrives base64-encoded, as the client's bytes, and those must be UTF-8: they are never
 * replaced silently.
 */
export function bodyText(event: APIGatewayProxyEventV2): string | undefined {
  if (!event.body || !event.isBase64Encoded) return event.body;
  try {
    return STRICT_UTF8.decode(Buffer.from(event.body, "base64"));
  } catch {
    throw fail("InvalidEncoding", "the request body is not UTF-8");
  }
}

/** Parses the JSON body and validates it; bad input becomes a 400 before anything is written. */
export function parseBody<T extends z.ZodType>(event: APIGatewayProxyEventV2, schema: T): z.infer<T> {
  let raw: unknown = {};
  if (event.body) {
    const text = bodyText(event)!;
    try {
      raw = JSON.parse(text);
    } catch {
      throw fail("InvalidJson", "the request body is not valid JSON");
    }
    const problem = numberProblem(text);
    if (problem) throw fail("InvalidNumber", problem);
  }
  return parseWith(schema, raw, "InvalidBody");
}

export function parseWith<T extends z.ZodType>(schema: T, raw: unknown, code: ErrorCode): z.infer<T> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const message = result.error.issues
      .map((issue) => (issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
      .join("; ");
    throw fail(code, message);
  }
  return result.data;
}

/** An Idempotency-Key: 1 to 255 printable ASCII characters (a UUID is what clients usually send). */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The request's Idempotency-Key header, validated; undefined without one. */
export function idempotencyKeyOf(event: APIGatewayProxyEventV2): string | undefined {
  const key = event.headers?.["idempotency-key"];
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key))
    throw fail("InvalidIdempotencyKey", "Idempotency-Key must be 1 to 255 printable ASCII characters");
  return key;
}

/**
 * An id for the write a request makes, derived from its Idempotency-Key (so a retry makes the same
 * write, which the stores recognise), or without a key from API Gateway's id of this request (unique
 * per request; a fresh one only when the event has none).
 */
export function writeIdOf(event: APIGatewayProxyEventV2): string {
  const key = idempotencyKeyOf(event);
  if (key !== undefined) return `idem-${fingerprint(event.routeKey, event.rawPath, key)}`;
  const requestId = event.requestContext?.requestId;
  return requestId ? `req-${requestId}` : randomUUID();
}

const WRITES = /^(POST|PUT|DELETE) /;

/**
 * The Api's router, derived from the contract: it dispatches on API Gateway's route key ("GET /health")
 * to the handler of that route, validates the path, query and body with the route's schemas first (bad
 * input answers 400 before anything runs), and maps domain errors to statuses, once. Write routes honour
 * an Idempotency-Key header through `idempotency` (see packages/core/src/idempotency/requests.ts).
 */
export function contractRouter<C extends Record<string, AnyRoute>>(
  contract: C,
  handlers: Handlers<C>,
  log: { error(message: string, error: Error | string): void },
  idempotency?: IdempotentRequests,
  /** Told of every 5xx answer's error code (a metric). */
  onServerError: (code: string) => void = () => {},
) {
  const routes: Record<string, Route> = {};
  for (const [name, route] of Object.entries(contract)) {
    const handler = handlers[name as keyof C] as Handler<AnyRoute>;
    const params = pathParamsOf(route.path);
    routes[routeKey(route)] = async (event, run = { rerun: false }) => {
      const input = {
        params: Object.fromEntries(
          params.map((param) => [
            param,
            parseWith(PATH_PARAM_SCHEMAS[param], event.pathParameters?.[param], PATH_PARAM_CODES[param]),
          ]),
        ),
        query: route.query ? parseWith(route.query, event.queryStringParameters ?? {}, "InvalidQuery") : {},
        body: route.body ? parseBody(event, route.body) : undefined,
      } as ParsedInput<AnyRoute>;
      return json(200, await handler(input, event, run));
    };
  }
  return dispatch(routes, log, idempotency, onServerError);
}

function dispatch(
  routes: Record<string, Route>,
  log: { error(message: string, error: Error | string): void },
  idempotency: IdempotentRequests | undefined,
  onServerError: (code: string) => void,
) {
  /** Runs a route: its response, and the code of the error it answered with, if any. */
  const execute = async (
    route: Route,
    event: APIGatewayProxyEventV2,
    request?: RequestRun,
  ): Promise<{ response: APIGatewayProxyStructuredResultV2; code?: ErrorCode }> => {
    try {
      return { response: await route(event, request) };
    } catch (error) {
      if (error instanceof DomainError) {
        if (ERROR_STATUS[error.code] >= 500) onServerError(error.code);
        return { response: errorResponse(error), code: error.code };
      }
      log.error("unhandled error", error instanceof Error ? error : String(error));
      onServerError("InternalError");
      return { response: errorResponse(fail("InternalError", "internal error")), code: "InternalError" };
    }
  };
  const run = async (route: Route, event: APIGatewayProxyEventV2) => (await execute(route, event)).response;
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const route = routes[event.routeKey];
    if (!route) return errorResponse(fail("RouteNotFound", `no route ${event.routeKey}`));
    if (!idempotency || !WRITES.test(event.routeKey)) return run(route, event);
    let key: string | undefined;
    let body: string | undefined;
    try {
      key = idempotencyKeyOf(event);
      body = bodyText(event);
    } catch (error) {
      return errorResponse(error as DomainError);
    }
    if (key === undefined) return run(route, event);
    const scoped = `${event.routeKey} ${event.rawPath} ${key}`;
    // The same request: method, path, query string and body (?wait=false and ?wait=true differ).
    const begun = await idempotency.begin(
      scoped,
      fingerprint(event.routeKey, event.rawPath, event.rawQueryString ?? "", body ?? ""),
    );
    switch (begun.status) {
      case "replay":
        return {
          statusCode: begun.response.statusCode,
          headers: { "content-type": "application/json", "idempotent-replayed": "true" },
          body: begun.response.body,
        };
      case "mismatch":
        return errorResponse(
          fail("IdempotencyKeyReused", "this Idempotency-Key was used with a different request"),
        );
      case "in-progress": {
        const response = errorResponse(
          fail("RequestInProgress", "a request with this Idempotency-Key is still running", {
            retryAfterMs: begun.retryAfterMs,
          }),
        );
        return {
          ...response,
          headers: { ...response.headers, "retry-after": String(Math.ceil(begun.retryAfterMs / 1000)) },
        };
      }
      case "new": {
        const { response, code } = await execute(route, event, { rerun: begun.rerun });
        const statusCode = response.statusCode ?? 200;
        // A final answer is kept (2xx, 4xx, OutcomeUnknown); after another 5xx, which wrote nothing or
        // whose write a run with the same ids finds, the key is given up and a retry runs again.
        if (statusCode < 500 || (code !== undefined && FINAL_SERVER_ERRORS.has(code)))
          await idempotency.complete(scoped, begun.token, { statusCode, body: String(response.body ?? "") });
        else await idempotency.abandon(scoped, begun.token);
        return response;
      }
    }
  };
}
