/** A CoordinationApi replica: the Paxos acceptor and a copy of the key-value store, on its own table (the primary also writes the outbox). */
import { documents, replicaConfig } from "@serverless-coordination/core/aws";
import { DynamoDBAcceptor } from "@serverless-coordination/core/paxos";
import { ReplicaStore, replicaHandler } from "@serverless-coordination/core/replication";

const config = replicaConfig();

export const handler = replicaHandler(
  new DynamoDBAcceptor(documents, config.REPLICA_TABLE),
  new ReplicaStore(documents, config.REPLICA_TABLE, config.OUTBOX_TABLE),
);
