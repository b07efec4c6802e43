/**
 * The Api's router, derived from the contract (see contractRouter); write routes go through the
 * Idempotency-Key middleware (idempotency-key.ts).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import {
  type AnyRoute,
  ERROR_STATUS,
  PATH_PARAM_CODES,
  PATH_PARAM_SCHEMAS,
  type ParsedInput,
  pathParamsOf,
  routeKey,
} from "../api/contract.ts";
import { DomainError, type ErrorCode, fail } from "../errors.ts";
import type { IdempotentRequests } from "../idempotency/requests.ts";
import { withIdempotencyKey } from "./idempotency-key.ts";
import {
  errorResponse,
  type Handler,
  type Handlers,
  json,
  parseBody,
  parseWith,
  type RequestRun,
  type Route,
} from "./responses.ts";

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
    return withIdempotencyKey(idempotency, event, (request) => execute(route, event, request));
  };
}
