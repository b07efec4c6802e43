/**
 * @serverless-coordination/core/api: The coordination API's contract: every route with its input and
 * answer schemas (zod), defined once for the router, a stack's routes, OpenAPI and the typed client; the
 * input rules (keys, values, numbers) and the error codes.
 */
export * from "../api/contract.ts";
export * from "../api/openapi.ts";
export * from "../errors.ts";
export * from "../validation.ts";
