import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { z } from "zod";
import { AppError, badRequest } from "../../shared/errors.ts";
import { numberProblem } from "../../shared/validation.ts";

export type Route = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export function json(status: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode: status, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

export function errorResponse(error: AppError): APIGatewayProxyStructuredResultV2 {
  return json(error.status, { error: { code: error.code, message: error.message, ...error.details } });
}

/** Parses the JSON body and validates it; bad input becomes a 400 before anything is written. */
export function parseBody<T extends z.ZodType>(event: APIGatewayProxyEventV2, schema: T): z.infer<T> {
  let raw: unknown = {};
  if (event.body) {
    const text = event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
    try {
      raw = JSON.parse(text);
    } catch {
      throw badRequest("InvalidJson", "the request body is not valid JSON");
    }
    const problem = numberProblem(text);
    if (problem) throw badRequest("InvalidNumber", problem);
  }
  return parseWith(schema, raw, "InvalidBody");
}

export function parseWith<T extends z.ZodType>(schema: T, raw: unknown, code: string): z.infer<T> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const message = result.error.issues
      .map((issue) => (issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
      .join("; ");
    throw badRequest(code, message);
  }
  return result.data;
}

/** Dispatches on API Gateway's route key ("GET /health") and maps typed errors to responses. */
export function router(
  routes: Record<string, Route>,
  log: { error(message: string, error: Error | string): void },
) {
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const route = routes[event.routeKey];
    if (!route) return errorResponse(new AppError(404, "RouteNotFound", `no route ${event.routeKey}`));
    try {
      return await route(event);
    } catch (error) {
      if (error instanceof AppError) return errorResponse(error);
      log.error("unhandled error", error instanceof Error ? error : String(error));
      return errorResponse(new AppError(500, "InternalError", "internal error"));
    }
  };
}
