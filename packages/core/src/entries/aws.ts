/**
 * @serverless-coordination/core/aws: Adapters to AWS: the SDK clients a handler uses (endpoints from the
 * standard variables), the replicas over Lambda Invoke, SQS and DynamoDB Streams clients, the
 * configuration read from a function's environment, the metric names, and DynamoDB transactions with their
 * cancellation reasons.
 */
export * from "../adapters/clients.ts";
export * from "../adapters/lambda-replicas.ts";
export * from "../adapters/queues.ts";
export * from "../config.ts";
export * from "../dynamodb/transactions.ts";
export * from "../lru.ts";
export * from "../observability/metrics.ts";
