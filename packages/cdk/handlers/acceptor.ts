/** A PaxosRegister acceptor: prepare and accept on its own table, by conditional writes only. */
import { documents, replicaConfig } from "@serverless-coordination/core/aws";
import { DynamoDBAcceptor } from "@serverless-coordination/core/paxos";
import { ReplicaStore, replicaHandler } from "@serverless-coordination/core/replication";

const config = replicaConfig();

export const handler = replicaHandler(
  new DynamoDBAcceptor(documents, config.REPLICA_TABLE),
  new ReplicaStore(documents, config.REPLICA_TABLE),
);
