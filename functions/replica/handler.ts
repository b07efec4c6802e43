/** A replica function: the Paxos acceptor and a copy of the key-value store (see replica.ts). */
import { documents } from "../../shared/adapters/clients.ts";
import { replicaConfig } from "../../shared/config.ts";
import { DynamoDBAcceptor } from "../../shared/paxos/dynamodb-acceptor.ts";
import { ReplicaStore } from "../../shared/replication/replica-store.ts";
import { replicaHandler } from "./replica.ts";

const config = replicaConfig();

export const handler = replicaHandler(
  new DynamoDBAcceptor(documents, config.REPLICA_TABLE),
  new ReplicaStore(documents, config.REPLICA_TABLE, config.OUTBOX_TABLE),
);
