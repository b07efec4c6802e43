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
 *
 * Concurrency: calls on one proposer are safe to run at once. Calls on the same key run one after
 * another (two of them sending different states at the one warm ballot would let replicas disagree at
 * that ballot); calls on different keys run side by side. The warm cache is a bounded LRU.
 */
import { fail } from "../errors.ts";
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

/** What a change learns about the round it is asked for. */
export interface Round {
  /**
   * The state this change returned in the previous round can never be chosen: a majority of replicas had
   * already accepted a higher ballot when they rejected it. (False when there was no previous round or
   * it may still be adopted by a later round.)
   */
  previousAttemptVoid: boolean;
}

export type Change = (current: RegisterState | undefined, round: Round) => RegisterState | undefined;

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
  /** How many keys the proposer keeps warm state and ballots for (least recently used go first). */
  maxCachedKeys?: number;
  /** Told how each change ended: its round trips to a majority, or its error (a metric). */
  observe?: (outcome: { roundTrips: number } | { error: unknown }) => void;
}

interface Warm {
  state: RegisterState;
  /** The ballot the replicas promised with our last accept. */
  ballot: string;
}

type Outcome<R> = { replies: R[]; failures: number };

/** A Map that keeps at most `capacity` entries, dropping the least recently used. */
class LruMap<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}

export class Proposer {
  private readonly warm: LruMap<string, Warm>;
  /** The highest ballot seen per key, so a new round starts above it. */
  private readonly highest: LruMap<string, string>;
  /** The tail of each key's queue of calls: calls on one key run one at a time. */
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly majority: number;

  constructor(private readonly options: ProposerOptions) {
    this.majority = Math.floor(options.transport.replicaIds.length / 2) + 1;
    const capacity = options.maxCachedKeys ?? 1000;
    this.warm = new LruMap(capacity);
    this.highest = new LruMap(capacity);
  }

  get proposerId(): string {
    return this.options.proposerId;
  }

  /** How many keys the proposer holds state for (bounded by `maxCachedKeys`). */
  get cachedKeys(): number {
    return Math.max(this.warm.size, this.highest.size);
  }

  /** Runs `change` on the key's register; calls on the same key wait for the ones before them. */
  change(key: string, change: Change): Promise<ChangeResult> {
    const before = this.running.get(key) ?? Promise.resolve();
    const result = before.then(
      () => this.run(key, change),
      () => this.run(key, change),
    );
    const observe = this.options.observe;
    if (observe)
      result.then(
        ({ roundTrips }) => observe({ roundTrips }),
        (error: unknown) => observe({ error }),
      );
    const tail = result.catch(() => {});
    this.running.set(key, tail);
    void tail.then(() => {
      if (this.running.get(key) === tail) this.running.delete(key);
    });
    return result;
  }

  private async run(key: string, change: Change): Promise<ChangeResult> {
    const maxRounds = this.options.maxRounds ?? 12;
    let roundTrips = 0;
    /** Rounds in a row in which fewer than a majority answered. */
    let unanswered = 0;
    let staleWarmState = false;
    let previousAttemptVoid = false;
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
        next = change(current, { previousAttemptVoid });
      } else {
        ballot = nextBallot(this.highest.get(key) ?? "", this.options.proposerId);
        const prepared = await this.quorum<PrepareReply>({ op: "prepare", key, ballot });
        roundTrips++;
        const promises = prepared.replies.filter((reply) => reply.ok);
        if (promises.length < this.majority) {
          unanswered = prepared.replies.length < this.majority ? unanswered + 1 : 0;
          this.noteConflicts(key, prepared, unanswered);
          continue;
        }
        unanswered = 0;
        const accepted = promises
          .map((reply) => reply.accepted)
          .filter((a): a is Accepted => a !== undefined);
        const highest = accepted.reduce<Accepted | undefined>(
          (a, b) => (!a || b.ballot > a.ballot ? b : a),
          undefined,
        );
        current = highest?.state;
        next = change(current, { previousAttemptVoid });
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
      else {
        unanswered = 0;
        staleWarmState = onePhase && round === 0;
      }
      // Replicas only ever accept higher ballots: once a majority accepted above ours, every later
      // quorum includes one of them, so no later round can adopt this attempt.
      previousAttemptVoid =
        accepted.replies.filter((reply) => !reply.ok && reply.acceptedBallot > ballot).length >=
        this.majority;
      this.noteConflicts(key, accepted, unanswered);
    }
    throw fail("Contention", `no majority agreed on ${key} within ${maxRounds} rounds; retry later`, {
      key,
    });
  }

  private noteConflicts(key: string, outcome: Outcome<PrepareReply | AcceptReply>, unanswered: number): void {
    const answered = outcome.replies.length;
    // One round without a majority of answers may be cold starts or a blip; two in a row is an outage.
    if (answered < this.majority && unanswered >= 2) {
      // Not contention: too few replicas answered at all.
      this.warm.delete(key);
      throw fail(
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
