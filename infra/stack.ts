import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { AppFunction } from "./constructs/app-function.ts";
import { AppHttpApi, HttpMethod } from "./constructs/http-api.ts";
import { addReplicas, replicaCount } from "./constructs/replicas.ts";
import { bindReplicas, Replication } from "./constructs/replication.ts";
import { fromRoot } from "./paths.ts";

/**
 * The serverless-coordination application: the replicas (Paxos acceptors and copies of the replicated
 * key-value store, each on its own table), the outbox, Relay, ChangesQueue and Replicator of the
 * replication, and the `Api` function (the proposer and replication coordinator) behind one HTTP API.
 */
export class CoordinationStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const replicas = addReplicas(this, replicaCount(this));

    const replication = new Replication(this, "Replication", replicas);

    const api = new AppFunction(this, "Api", { entry: fromRoot("functions/api/handler.ts") });
    bindReplicas(api, replicas);
    api.bindTableRead(replication.changeCounters, "CHANGE_COUNTER_TABLE");

    new AppHttpApi(this, "Http", {
      handler: api,
      routes: [
        { method: HttpMethod.GET, path: "/health" },
        { method: HttpMethod.POST, path: "/paxos/{key}" },
        { method: HttpMethod.PUT, path: "/paxos/{key}" },
        { method: HttpMethod.GET, path: "/paxos/{key}" },
        { method: HttpMethod.PUT, path: "/kv/{key}" },
        { method: HttpMethod.GET, path: "/kv/{key}" },
        { method: HttpMethod.GET, path: "/kv/{key}/changes" },
      ],
    });
  }
}
