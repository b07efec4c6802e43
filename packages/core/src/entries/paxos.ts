/**
 * @serverless-coordination/core/paxos: Paxos on Lambda: ballots (proposal numbers), the acceptor's rules
 * and its DynamoDB store (conditional writes only), the proposer (prepare/accept, the one-round-trip path
 * of a warm leader), and the register operations (write-once and CASPaxos rewritable).
 */
export * from "../paxos/acceptor.ts";
export * from "../paxos/ballot.ts";
export * from "../paxos/dynamodb-acceptor.ts";
export * from "../paxos/proposer.ts";
export * from "../paxos/register.ts";
