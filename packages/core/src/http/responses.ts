import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { z } from "zod";
import { type AnyRoute, ERROR_STATUS, type ParsedInput, type RouteOutput } from "../api/contract.ts";
import { type DomainError, type ErrorCode, fail } from "../errors.ts";
import { numberProblem } from "../validation.ts";

/** What the router knows of a request beyond its event. */
export interface RequestRun {
  /** An earlier run with the same Idempotency-Key held it and died: it may have acted. */
  rerun: boolean;
}

export type Route = (
  event: APIGatewayProxyEventV2,
  run?: RequestRun,
) => Promise<APIGatewayProxyStructuredResultV2>;

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
 * string, already decoded (bytes that are not UTF-8 arrive as U+FFFD; docs/api.md states it); any other
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
