/**
 * @serverless-coordination/core/outbox: Atomic enqueue: the outbox record written in the same DynamoDB
 * transaction as the data, the relay from the outbox table's stream to SQS FIFO (group = key,
 * deduplication = outbox id), the quarantine of records that cannot be sent, and the replay of failed
 * batches.
 */
export * from "../outbox/failed-batches.ts";
export * from "../outbox/outbox.ts";
export * from "../outbox/quarantine.ts";
export * from "../outbox/relay.ts";
export * from "../outbox/relay-handler.ts";
export * from "../outbox/replay-handler.ts";
