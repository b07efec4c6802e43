import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { lambda } from "../../shared/adapters/clients.ts";
import { LambdaReplicas } from "../../shared/adapters/lambda-replicas.ts";
import { apiConfig } from "../../shared/config.ts";
import { Proposer } from "../../shared/paxos/proposer.ts";
import { json, router } from "../commons/http.ts";
import { paxosRoutes } from "./paxos-routes.ts";

const logger = new Logger();
const config = apiConfig();

// One proposer per execution environment: its id makes its ballots unique, and it stays warm across
// invocations, so repeated writes to a key take one round trip.
const proposer = new Proposer({
  proposerId: randomUUID().slice(0, 8),
  transport: new LambdaReplicas(lambda, config.REPLICA_FUNCTIONS, config.REPLICA_CALL_TIMEOUT_MS),
  maxRounds: config.PAXOS_MAX_ROUNDS,
});

export const handler = router(
  {
    "GET /health": async () => json(200, { status: "ok" }),
    ...paxosRoutes(() => proposer),
  },
  logger,
);
