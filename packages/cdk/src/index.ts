/**
 * @serverless-coordination/cdk: L3 constructs for coordination on AWS serverless. Every resource a
 * construct makes can be replaced by your own or tuned through props, and is a public field; each grant
 * helper sets the permission and the environment variable that names the resource together.
 */
export {
  CoordinationApi,
  type CoordinationApiProps,
  type CoordinationReplica,
} from "./coordination-api.ts";
export type { FunctionOverrides } from "./function.ts";
export { IdempotentConsumer, type IdempotentConsumerProps } from "./idempotent-consumer.ts";
export { LeaseLookup, type LeaseLookupProps } from "./lease-lookup.ts";
export { type Acceptor, PaxosRegister, type PaxosRegisterProps } from "./paxos-register.ts";
export { TransactionalOutbox, type TransactionalOutboxProps } from "./transactional-outbox.ts";
