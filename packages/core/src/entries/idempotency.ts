/**
 * @serverless-coordination/core/idempotency: Idempotent consumers: fenced claims (a lease with an owner
 * token) for effects that are not conditional, the Idempotency-Key records of HTTP write requests, and the
 * SQS FIFO batch handler with partial failures.
 */
export * from "../idempotency/claims.ts";
export * from "../idempotency/fifo-batch.ts";
export * from "../idempotency/requests.ts";
