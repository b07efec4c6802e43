import { api as contract } from "@serverless-coordination/core/api";
import { Duration, Stack, type StackProps } from "aws-cdk-lib";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import type { Construct } from "constructs";
import { AppFunction } from "./constructs/app-function.ts";
import { AppHttpApi, stackRoutes } from "./constructs/http-api.ts";
import { Lookup } from "./constructs/lookup.ts";
import { Operations } from "./constructs/operations.ts";
import { addReplicas, replicaCount } from "./constructs/replicas.ts";
import { bindReplicas, Replication, table } from "./constructs/replication.ts";
import { authMode, contextInteger } from "./context.ts";
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

    const lookup = new Lookup(this, "Lookup");

    // A move waits up to one lease duration plus the skew bound; API Gateway gives a request 30 s.
    const apiConcurrency = contextInteger(this, "apiConcurrency", 20, 0);
    const api = new AppFunction(this, "Api", {
      entry: fromRoot("functions/api/handler.ts"),
      timeout: Duration.seconds(29),
      // Bounds what a flood of requests can run up (see infra/context.ts); 0 leaves it unreserved.
      ...(apiConcurrency > 0 ? { reservedConcurrentExecutions: apiConcurrency } : {}),
    });
    bindReplicas(api, replicas);
    api.bindTableRead(replication.changeCounters, "CHANGE_COUNTER_TABLE");
    // Idempotency-Key records of the write routes, kept 24 hours by TTL.
    api.bindTableReadWrite(table(this, "IdempotencyTable", "pk", { ttl: "ttl" }), "IDEMPOTENCY_TABLE");
    lookup.bind(api);

    const http = new AppHttpApi(this, "Http", {
      handler: api,
      throttle: {
        rateLimit: contextInteger(this, "apiRateLimit", 100, 1),
        burstLimit: contextInteger(this, "apiBurstLimit", 200, 1),
      },
      // Callers need execute-api:Invoke on the API and sign their requests (SigV4).
      ...(authMode(this) === "iam" ? { authorizer: new HttpIamAuthorizer() } : {}),
      // Every route of the API contract (packages/core/src/api/contract.ts), nothing else.
      routes: stackRoutes(contract),
    });

    new Operations(this, "Operations", {
      api: http.api,
      functions: {
        Api: api,
        Relay: replication.relay,
        Replicator: replication.replicator,
        ...Object.fromEntries(replicas.map((replica) => [replica.id, replica.fn])),
      },
      changesDlq: replication.changesDlq,
      relayFailures: replication.relayFailures,
      relay: replication.relay,
    });
  }
}
