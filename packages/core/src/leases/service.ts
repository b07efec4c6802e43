/**
 * The sticky lookup service on LeaseTable and ServerTable (the rules are in rules.ts), one object over
 * its parts, each change one conditional write or one transaction of them:
 * - registrations.ts: heartbeats and the live servers;
 * - assignments.ts: lookups, moves and releases, each assignment with the next fencing token;
 * - fenced-state.ts: a session's state, written only under its live lease's fencing token;
 * - store.ts: the reads, the transactions and this instance's guesses they share.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type Assignment, Assignments } from "./assignments.ts";
import { FencedState } from "./fenced-state.ts";
import { Registrations } from "./registrations.ts";
import type { LeaseConfig } from "./rules.ts";
import { LeaseStore } from "./store.ts";

export type { Assignment } from "./assignments.ts";
export { LEASES_BY_SERVER_INDEX } from "./registrations.ts";

export interface LeaseServiceOptions {
  leaseTable: string;
  serverTable: string;
  config: LeaseConfig;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** How often a waiting move looks for an early release. */
  pollMs?: number;
  /**
   * Told of each new assignment (a metric): a session's first, or a reassignment after its holder's
   * registration expired (`expired`), after a release or freeze for a move (`handover`).
   */
  observe?: (event: "first" | "expired" | "handover") => void;
  /**
   * Told how many DynamoDB requests each read of a lease with its holder's registration took (a metric):
   * 1 when this instance guessed the holder, 2 when it had to read the lease first or guessed wrong.
   */
  observeRead?: (requests: number) => void;
  /** How many sessions' last-seen holders an instance remembers to read them in one request (LRU). */
  maxHintedSessions?: number;
}

export class LeaseService {
  private readonly registrations: Registrations;
  private readonly assignments: Assignments;
  private readonly state: FencedState;
  private readonly store: LeaseStore;

  constructor(documents: DynamoDBDocumentClient, options: LeaseServiceOptions) {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    this.store = new LeaseStore(documents, { ...options, now: options.now ?? Date.now });
    this.registrations = new Registrations(this.store, sleep);
    this.assignments = new Assignments(this.store, this.registrations, { ...options, sleep });
    this.state = new FencedState(this.store);
  }

  get config(): LeaseConfig {
    return this.store.config;
  }

  /** Registers or renews a server, and answers the leases it holds (see Registrations.heartbeat). */
  heartbeat(serverId: string) {
    return this.registrations.heartbeat(serverId);
  }

  liveServers() {
    return this.registrations.liveServers();
  }

  /** The session's holder while its lease lives; else assigns it by rendezvous hashing over live servers. */
  lookup(sessionId: string): Promise<Assignment> {
    return this.assignments.lookup(sessionId);
  }

  /** Moves the session to `serverId`, waiting out (or answering LeaseHeld for) another's lease. */
  move(sessionId: string, serverId: string, wait: boolean, maxWaitMs?: number) {
    return this.assignments.move(sessionId, serverId, wait, maxWaitMs);
  }

  /** The holder gives the lease up at once (graceful handoff). */
  release(sessionId: string, serverId: string, fencingToken: number) {
    return this.assignments.release(sessionId, serverId, fencingToken);
  }

  /** Stores the session's state, only under its live lease's fencing token. */
  writeState(sessionId: string, serverId: string, fencingToken: number, state: unknown) {
    return this.state.write(sessionId, serverId, fencingToken, state);
  }

  readState(sessionId: string) {
    return this.state.read(sessionId);
  }
}
