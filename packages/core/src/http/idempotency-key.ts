/**
 * The Idempotency-Key middleware of write routes: a request with a key runs once; a retry with the same
 * key and the same request gets the first answer again (`idempotent-replayed: true`), one with a different
 * request 422 IdempotencyKeyReused, one while the first still runs 409 RequestInProgress with Retry-After.
 * The records are kept by `IdempotentRequests` (../idempotency/requests.ts).
 */
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { FINAL_SERVER_ERRORS } from "../api/contract.ts";
import { type DomainError, type ErrorCode, fail } from "../errors.ts";
import { fingerprint, type IdempotentRequests } from "../idempotency/requests.ts";
import { bodyText, errorResponse, type RequestRun } from "./responses.ts";

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

/**
 * Runs a write request through its Idempotency-Key: `execute` runs the route (told whether this is a rerun
 * of a key given up after a 5xx) and answers its response with the code of the error it answered with.
 */
export async function withIdempotencyKey(
  idempotency: IdempotentRequests,
  event: APIGatewayProxyEventV2,
  execute: (
    request?: RequestRun,
  ) => Promise<{ response: APIGatewayProxyStructuredResultV2; code?: ErrorCode }>,
): Promise<APIGatewayProxyStructuredResultV2> {
  let key: string | undefined;
  let body: string | undefined;
  try {
    key = idempotencyKeyOf(event);
    body = bodyText(event);
  } catch (error) {
    return errorResponse(error as DomainError);
  }
  if (key === undefined) return (await execute()).response;
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
      const { response, code } = await execute({ rerun: begun.rerun });
      const statusCode = response.statusCode ?? 200;
      // A final answer is kept (2xx, 4xx, OutcomeUnknown); after another 5xx, which wrote nothing or
      // whose write a run with the same ids finds, the key is given up and a retry runs again.
      if (statusCode < 500 || (code !== undefined && FINAL_SERVER_ERRORS.has(code)))
        await idempotency.complete(scoped, begun.token, { statusCode, body: String(response.body ?? "") });
      else await idempotency.abandon(scoped, begun.token);
      return response;
    }
  }
}
