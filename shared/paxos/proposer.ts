/**
 * The proposer (the writer) of per-key Paxos with CASPaxos registers: a change is a function applied to
 * the register's current state.
 *
 * Phase 1 sends prepare(ballot) to every replica in parallel and waits for a majority of promises; the
 * highest accepted state among them is the current one (the viral property). Phase 2 sends
 * accept(ballot, change(current)) and waits for a majority. A rejection carries the conflicting ballot,
 * so the next round jumps past it after a randomized, jittered backoff; the rounds are bounded.
 *
 * One round trip: every accept also records the promise of this proposer's next ballot. A warm proposer
 * that committed the key's latest state keeps it and its next ballot, and starts the next change at
 * phase 2; any rejection drops that and falls back to two phases.
 */
import { unavailable } from "../errors.ts";
import type {
  Accepted,
  AcceptorRequest,
  AcceptReply,
  AcceptRequest,
  PrepareReply,
  PrepareRequest,
  RegisterState,
} from "./acceptor.ts";
import { nextBallot } from "./ballot.ts";

/** Carries acceptor requests to replicas; a call rejects when the replica fails or does not answer in time. */
export interface ReplicaTransport {
  readonly replicaIds: readonly string[];
  call(replicaId: string, request: PrepareRequest): Promise<PrepareReply>;
  call(replicaId: string, request: AcceptRequest): Promise<AcceptReply>;
}

export type Change = (current: RegisterState | undefined) => RegisterState | undefined;

export interface ChangeResult {
  before?: RegisterState;
  after?: RegisterState;
  /** Round trips to a majority this change took (1 for a warm change, 2 for a cold one). */
  roundTrips: number;
}

export interface ProposerOptions {
  proposerId: string;
  transport: ReplicaTransport;
  maxRounds?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Set false to always run both phases (the simulation exercises both paths). */
  onePhaseWhenWarm?: boolean;
}

interface Warm {
  state: RegisterState;
  /** The ballot the replicas promised with our last accept. */
  ballot: string;
}

type Outcome<R> = { replies: R[]; failures: number };

export class Proposer {
  private readonly warm = new Map<string, Warm>();
  /** The highest ballot seen per key, so a new round starts above it. */
  private readonly highest = new Map<string, string>();
  private readonly majority: number;

  constructor(private readonly options: ProposerOptions) {
    this.majority = Math.floor(options.transport.replicaIds.length / 2) + 1;
  }

  get proposerId(): string {
    return this.options.proposerId;
  }

  async change(key: string, change: Change): Promise<ChangeResult> {
    const maxRounds = this.options.maxRounds ?? 12;
    let roundTrips = 0;
    let unanswered = 0;
    let staleWarmState = false;
    for (let round = 0; round < maxRounds; round++) {
      // A warm attempt rejected means another proposer wrote the key since (a Lambda environment does
      // not see the others' writes), not necessarily that one is writing now: retry at once.
      if (round > 0 && !staleWarmState) await this.backoff(round);
      staleWarmState = false;
      const warm = this.warm.get(key);
      let ballot: string;
      let current: RegisterState | undefined;
      let next: RegisterState | undefined;
      const onePhase = warm !== undefined && this.options.onePhaseWhenWarm !== false;
      if (warm && onePhase) {
        ballot = warm.ballot;
        current = warm.state;
        next = change(current);
      } else {
        ballot = nextBallot(this.highest.get(key) ?? "", this.options.proposerId);
        const prepared = await this.quorum<PrepareReply>({ op: "prepare", key, ballot });
        roundTrips++;
        const promises = prepared.replies.filter((reply) => reply.ok);
        if (promises.length < this.majority) {
          if (prepared.replies.length < this.majority) unanswered++;
          this.noteConflicts(key, prepared, unanswered);
          continue;
        }
        const accepted = promises
          .map((reply) => reply.accepted)
          .filter((a): a is Accepted => a !== undefined);
        const highest = accepted.reduce<Accepted | undefined>(
          (a, b) => (!a || b.ballot > a.ballot ? b : a),
          undefined,
        );
        current = highest?.state;
        next = change(current);
        // A read needs no phase 2 when a majority already accepted the same ballot: that state is chosen.
        const chosen = accepted.filter((a) => a.ballot === highest?.ballot).length >= this.majority;
        if (next === current && (next === undefined || chosen))
          return { before: current, after: next, roundTrips };
      }
      if (next === undefined) return { before: current, after: undefined, roundTrips };
      const promise = nextBallot(ballot, this.options.proposerId);
      const accepted = await this.quorum<AcceptReply>({ op: "accept", key, ballot, state: next, promise });
      roundTrips++;
      if (accepted.replies.filter((reply) => reply.ok).length >= this.majority) {
        this.warm.set(key, { state: next, ballot: promise });
        this.highest.set(key, promise);
        return { before: current, after: next, roundTrips };
      }
      if (accepted.replies.length < this.majority) unanswered++;
      else staleWarmState = onePhase && round === 0;
      this.noteConflicts(key, accepted, unanswered);
    }
    throw unavailable("Contention", `no majority agreed on ${key} within ${maxRounds} rounds; retry later`, {
      key,
    });
  }

  private noteConflicts(key: string, outcome: Outcome<PrepareReply | AcceptReply>, unanswered: number): void {
    const answered = outcome.replies.length;
    // One round without a majority of answers may be cold starts or a blip; two in a row is an outage.
    if (answered < this.majority && unanswered >= 2) {
      // Not contention: too few replicas answered at all.
      this.warm.delete(key);
      throw unavailable(
        "NoQuorum",
        `only ${answered} of ${this.options.transport.replicaIds.length} replicas answered; a majority is ${this.majority}`,
        { key, answered, replicas: this.options.transport.replicaIds.length },
      );
    }
    this.warm.delete(key);
    for (const reply of outcome.replies) {
      if (!reply.ok && reply.conflict > (this.highest.get(key) ?? "")) this.highest.set(key, reply.conflict);
    }
  }

  /** Sends to every replica; settles once a majority said yes or a majority can no longer say yes. */
  private quorum<R extends PrepareReply | AcceptReply>(request: AcceptorRequest): Promise<Outcome<R>> {
    const ids = this.options.transport.replicaIds;
    return new Promise((resolve) => {
      const replies: R[] = [];
      let failures = 0;
      let settled = false;
      const check = () => {
        const yes = replies.filter((reply) => reply.ok).length;
        const no = replies.length - yes + failures;
        if (
          !settled &&
          (yes >= this.majority ||
            no > ids.length - this.majority ||
            replies.length + failures === ids.length)
        ) {
          settled = true;
          resolve({ replies: [...replies], failures });
        }
      };
      for (const id of ids) {
        (this.options.transport.call(id, request as PrepareRequest) as Promise<R>).then(
          (reply) => {
            replies.push(reply);
            check();
          },
          () => {
            failures++;
            check();
          },
        );
      }
    });
  }

  private backoff(round: number): Promise<void> {
    const random = this.options.random ?? Math.random;
    const cap = Math.min(this.options.backoffMaxMs ?? 1000, (this.options.backoffBaseMs ?? 10) * 2 ** round);
    const sleep =
      this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    return sleep(random() * cap);
  }
}
