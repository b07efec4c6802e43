/**
 * @serverless-coordination/core/http: HTTP API handlers (API Gateway v2, payload 2.0): the router of a
 * contract (validation, 400 on bad input before any write, the error shape) and the Idempotency-Key
 * middleware of the write routes.
 */
export * from "../http/idempotency-key.ts";
export * from "../http/responses.ts";
export * from "../http/router.ts";
