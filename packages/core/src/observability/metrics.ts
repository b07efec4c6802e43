/**
 * The metrics the functions emit (Powertools Metrics, CloudWatch embedded metric format: one JSON log line
 * per flush, no API call) and the alarms and dashboard of the stack read. Names are written once, here.
 */
export const METRICS_NAMESPACE = "ServerlessCoordination";

export const METRIC = {
  /** Relay: outbox records sent to ChangesQueue, quarantined as poison, and failed (to be retried). */
  relaySent: "RelaySent",
  relayQuarantined: "RelayQuarantined",
  relayFailed: "RelayFailed",
  /** Replicator: per replica and change, applied, a duplicate delivery, or stale (out of order). */
  replicaApplied: "ReplicaApplied",
  replicaDuplicate: "ReplicaDuplicate",
  replicaStale: "ReplicaStale",
  /** Replicator: changes that could not be applied on every replica yet (retried). */
  replicationRetried: "ReplicationRetried",
  /** Replicator: claims on a change taken over from a worker whose claim expired (it crashed or stalled). */
  claimTakeovers: "ClaimTakeovers",
  /** Replicator: commit on the primary to applied on every replica, per change (ms). */
  replicationLag: "ReplicationLag",
  /**
   * Where a change's replication time goes (ms), stage by stage: the commit to the Relay's invocation
   * with it (the stream and its poll), the Relay's send of its batch to ChangesQueue (per invocation),
   * the send to the Replicator's invocation with it (the queue and its poll), the Replicator's apply on
   * every replica, and its counting (claim and counter) — per change.
   */
  stageStreamToRelay: "StageStreamToRelay",
  stageRelaySend: "StageRelaySend",
  stageQueueToReplicator: "StageQueueToReplicator",
  stageApply: "StageApply",
  stageCount: "StageCount",
  /** Api: round trips to a majority per Paxos change (1 warm, 2 cold, more under contention). */
  paxosRoundTrips: "PaxosRoundTrips",
  /** Api: Paxos changes that ended without an answer (Contention, NoQuorum, OutcomeUnknown). */
  paxosFailed: "PaxosFailed",
  /** Api: lease assignments, by `kind`: first, expired (the holder stopped heartbeating), handover. */
  leaseAssignments: "LeaseAssignments",
  /**
   * Api: DynamoDB requests per read of a lease with its holder's registration (a lookup's read): 1 when
   * the instance guessed the holder, 2 when it read the lease first or guessed wrong.
   */
  leaseReadRequests: "LeaseReadRequests",
  /** Api: answers 5xx, by error code (dimension `code`). */
  apiServerErrors: "ApiServerErrors",
} as const;
