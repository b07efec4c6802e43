/** The CoordinationApi's Api function: the contract's router over the Paxos proposer, the replication coordinator and the lease service. */
import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { api } from "@serverless-coordination/core/api";
import {
  apiConfig,
  documents,
  LambdaReplicas,
  lambda,
  METRIC,
  METRICS_NAMESPACE,
} from "@serverless-coordination/core/aws";
import { contractRouter } from "@serverless-coordination/core/http";
import { IdempotentRequests } from "@serverless-coordination/core/idempotency";
import { LeaseService, SlotStore } from "@serverless-coordination/core/leases";
import { Proposer } from "@serverless-coordination/core/paxos";
import { ReplicationCoordinator, readChangeCount } from "@serverless-coordination/core/replication";
import { kvHandlers } from "./api/kv-routes.ts";
import { lookupHandlers } from "./api/lookup-routes.ts";
import { paxosHandlers } from "./api/paxos-routes.ts";

const logger = new Logger();
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "Api" });
const config = apiConfig();
const replicas = new LambdaReplicas(
  lambda,
  config.REPLICA_IDS,
  config.REPLICA_FUNCTIONS,
  config.REPLICA_CALL_TIMEOUT_MS,
);

// One proposer per execution environment: its id makes its ballots unique, and it stays warm across
// invocations, so repeated writes to a key take one round trip.
const proposer = new Proposer({
  proposerId: randomUUID().slice(0, 8),
  transport: replicas,
  maxRounds: config.PAXOS_MAX_ROUNDS,
  observe: (outcome) => {
    if ("roundTrips" in outcome)
      metrics.addMetric(METRIC.paxosRoundTrips, MetricUnit.Count, outcome.roundTrips);
    else metrics.addMetric(METRIC.paxosFailed, MetricUnit.Count, 1);
  },
});
const coordinator = new ReplicationCoordinator(replicas, config.REPLICATION_CALL_TIMEOUT_MS);

const leases = new LeaseService(documents, {
  leaseTable: config.LEASE_TABLE,
  serverTable: config.SERVER_TABLE,
  config: { leaseDurationMs: config.LEASE_DURATION_MS, maxSkewMs: config.MAX_CLOCK_SKEW_MS },
  observe: (kind) => {
    const metric = metrics.singleMetric();
    metric.addDimension("kind", kind);
    metric.addMetric(METRIC.leaseAssignments, MetricUnit.Count, 1);
  },
  observeRead: (requests) => metrics.addMetric(METRIC.leaseReadRequests, MetricUnit.Count, requests),
});

// Every route of the contract (packages/core/src/api/contract.ts), one handler each.
const route = contractRouter(
  api,
  {
    health: async () => ({ status: "ok" as const }),
    ...paxosHandlers(() => proposer),
    ...lookupHandlers(leases, new SlotStore(documents, config.SERVER_TABLE), config.MOVE_WAIT_MS),
    ...kvHandlers(coordinator, (key) => readChangeCount(documents, config.CHANGE_COUNTER_TABLE, key)),
  },
  logger,
  // A request holds its key for as long as the function may run (29 s), and a little more.
  new IdempotentRequests(documents, config.IDEMPOTENCY_TABLE, { inProgressMs: 35_000 }),
  (code) => {
    const metric = metrics.singleMetric();
    metric.addDimension("code", code);
    metric.addMetric(METRIC.apiServerErrors, MetricUnit.Count, 1);
  },
);

export const handler = async (event: Parameters<typeof route>[0]) => {
  try {
    return await route(event);
  } finally {
    // Only what a request recorded (Paxos round trips, lease reads); /health records nothing.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
