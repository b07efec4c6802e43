import { Fn, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { AppFunction } from "./constructs/app-function.ts";
import { AppHttpApi, HttpMethod } from "./constructs/http-api.ts";
import { addReplicas, replicaCount } from "./constructs/replicas.ts";
import { fromRoot } from "./paths.ts";

/**
 * The serverless-coordination application: the replicas (Paxos acceptors, each on its own table) and the
 * `Api` function (the proposer) behind one HTTP API.
 */
export class CoordinationStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const replicas = addReplicas(this, replicaCount(this));

    const api = new AppFunction(this, "Api", { entry: fromRoot("functions/api/handler.ts") });
    for (const replica of replicas) api.allowInvoke(replica.fn);
    api.addEnvironment(
      "REPLICA_FUNCTIONS",
      Fn.join(
        ",",
        replicas.map((replica) => replica.fn.functionName),
      ),
    );

    new AppHttpApi(this, "Http", {
      handler: api,
      routes: [
        { method: HttpMethod.GET, path: "/health" },
        { method: HttpMethod.POST, path: "/paxos/{key}" },
        { method: HttpMethod.PUT, path: "/paxos/{key}" },
        { method: HttpMethod.GET, path: "/paxos/{key}" },
      ],
    });
  }
}
