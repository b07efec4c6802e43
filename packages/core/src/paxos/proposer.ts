/**
 * The proposer (the writer) of per-key Paxos with CASPaxos registers: a change is a function applied to
 * the register's current state.
 *
 * Phase 1 sends prepare(ballot) to every replica in parallel and waits for a majority of promises; the
 * highest accepted state among them is the current one (the viral property). Phase 2 sends
 * accept(ballot, change(current)) and waits for a majority. A rejection carries the conflicting ballot,
 * so the next round jumps past it after a backoff scaled to the measured round-trip time: the owner of
 * the higher ballot gets about one round trip to finish before we try again; the rounds are bounded.
 *
 * One round trip: every accept also records the promise of this proposer's next ballot. A warm proposer
 * that committed the key's latest state keeps it and its next ballot, and starts the next change at
 * phase 2; any rejection drops that and falls back to two phases. Its accept carries a fallback prepare
 * (see acceptor.ts): when another proposer wrote the key since and finished, a majority of rejections
 * promise one fallback ballot and answer what they accepted, and the change goes straight to phase 2 at
 * that ballot: two round trips where a separate prepare would make three.
 *
 * Concurrency: calls on one proposer are safe to run at once. Calls on the same key never run rounds of
 * their own side by side (two of them sending different states at the one warm ballot would let replicas
 * disagree at that ballot): the calls that arrive while a key's round is under way are combined into its
 * next round. Their changes compose: each is applied, in arrival order, to the state the one before it
 * returned, and the last state is accepted once, for all of them. Each call answers the state it saw and
 * the state it made. Calls on different keys run side by side. The warm cache is a bounded LRU.
 */
import { fail } from "../errors.ts";
import { LruMap } from "../lru.ts";
import {
  type Accepted,
  type AcceptorRequest,
  type AcceptReply,
  type AcceptRequest,
  type PrepareReply,
  type PrepareRequest,
  type RegisterState,
  writeUnderWay,
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
   * No replica accepted the state this change returned in the last round whose accept was sent, so no
   * round can ever adopt it: every replica answered that accept, each with a rejection that does not show
   * our ballot accepted. (False when there was no such round, or when a replica accepted it, failed or
   * has not answered yet: it may have been adopted already, by a round that prepared before the replicas
   * moved on.) A rejection is proof only because each accept reaches a replica at most once: the
   * transport does not retry (adapters/clients.ts), and an accept the storage retried answers our ballot
   * accepted, or fails when the item is already past it (dynamodb-acceptor.ts).
   */
  previousAttemptVoid: boolean;
}

export type Change = (current: RegisterState | undefined, round: Round) => RegisterState | undefined;

export interface ChangeResult {
  before?: RegisterState;
  after?: RegisterState;
  /** Round trips to a majority this change took (1 for a warm change, 2 for a cold one). */
  roundTrips: number;
  /** How many calls the round that ended this change answered (1: it was not combined). */
  combined: number;
}

export interface ProposerOptions {
  proposerId: string;
  transport: ReplicaTransport;
  maxRounds?: number;
  /** The backoff's unit until a round trip was measured (then the measured round-trip time). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** A clock for round-trip times, in ms (a simulation passes its virtual time). */
  now?: () => number;
  /** How many queued calls on one key one round may combine (default 8). */
  maxCombined?: number;
  /** Set false to always run both phases (the simulation exercises both paths). */
  onePhaseWhenWarm?: boolean;
  /** How many keys the proposer keeps warm state and ballots for (least recently used go first). */
  maxCachedKeys?: number;
  /** Told how each change ended: its round trips to a majority, or its error (a metric). */
  observe?: (outcome: { roundTrips: number; combined: number } | { error: unknown }) => void;
}

interface Warm {
  state: RegisterState;
  /** The ballot the replicas promised with our last accept. */
  ballot: string;
}

type Outcome<R> = {
  replies: R[];
  failures: number;
  /** Every answer so far, still filled in after the outcome settled (the replies that came late). */
  all: Answers<R>;
};

interface Answers<R> {
  replies: R[];
  failures: number;
  /** Settles once every replica answered or failed. */
  complete: Promise<void>;
}

/** No answer so far says an attempt at `ballot` may have been accepted (no failure, no ok, not ours). */
const noneAccepted = (ballot: string, answers: Answers<AcceptReply>) =>
  answers.failures === 0 && answers.replies.every((reply) => !reply.ok && reply.acceptedBallot !== ballot);

/** Whether an attempt could still turn out void: every answer so far is a rejection, and some are missing. */
const undecided = (ballot: string, answers: Answers<AcceptReply>, replicas: number) =>
  noneAccepted(ballot, answers) && answers.replies.length < replicas;

/** Whether no replica can have accepted an attempt at `ballot`: every replica answered, none accepted it. */
const attemptVoid = (ballot: string, answers: Answers<AcceptReply>, replicas: number) =>
  noneAccepted(ballot, answers) && answers.replies.length === replicas;

/** A call waiting for (or in) its key's round. */
export interface Call {
  change: Change;
  resolve: (result: ChangeResult) => void;
  reject: (error: unknown) => void;
  /** In the round that ended: the state the change saw and the one it returned. */
  before?: RegisterState;
  after?: RegisterState;
  /** The change threw in the last round: its call ends with this error. */
  error?: { error: unknown };
}

/**
 * Whether a rejection shows another proposer's write under way rather than one that finished. A finished
 * write leaves its acceptors promised to its proposer's next ballot (every accept records it, for that
 * proposer's next one-round change): a conflict that is exactly that ballot means no one is between
 * phases. A higher promise, a prepare not yet followed by its accept, is a write under way.
 */
function writeInProgress(replies: Array<PrepareReply | AcceptReply>): boolean {
  return replies.some((reply) => !reply.ok && writeUnderWay(reply.conflict, reply.acceptedBallot));
}

/** Phase 1 done by a warm attempt's rejections: `needed` of them promised one fallback ballot. */
function fallbackPromises(
  replies: AcceptReply[],
  needed: number,
): { ballot: string; promises: PrepareReply[] } | undefined {
  const byBallot = new Map<string, PrepareReply[]>();
  for (const reply of replies) {
    if (reply.ok || !reply.fallback) continue;
    const { ballot, accepted } = reply.fallback;
    byBallot.set(ballot, [...(byBallot.get(ballot) ?? []), { ok: true, ...(accepted ? { accepted } : {}) }]);
  }
  for (const [ballot, promises] of byBallot) if (promises.length >= needed) return { ballot, promises };
  return undefined;
}

/** What one call of `run` carries from round to round. */
interface RoundState {
  roundTrips: number;
  /** Rounds in a row in which fewer than a majority answered. */
  unanswered: number;
  /** The last round's warm attempt was rejected by a finished write, not one under way: retry at once. */
  staleWarmState: boolean;
  /** Phase 1 of the next round, done by the last round's rejected warm attempt (its fallback). */
  carried?: { ballot: string; promises: PrepareReply[] };
  /** The last accept sent that did not reach a majority; judged when the next change is composed. */
  lastAttempt?: { ballot: string; answers: Answers<AcceptReply> };
}

/** A round's proposal: the state to send at `ballot`, and whether phase 1 was skipped (warm). */
interface Proposal {
  ballot: string;
  next: RegisterState;
  onePhase: boolean;
}

/**
 * The state a majority's promises make current: the one accepted at the highest ballot among them, and
 * whether a majority accepted that very ballot (then it is chosen, and a read needs no phase 2).
 */
function highestAccepted(
  promises: PrepareReply[],
  majority: number,
): { current: RegisterState | undefined; chosen: boolean } {
  const accepted = promises
    .map((reply) => (reply.ok ? reply.accepted : undefined))
    .filter((a): a is Accepted => a !== undefined);
  const highest = accepted.reduce<Accepted | undefined>(
    (a, b) => (!a || b.ballot > a.ballot ? b : a),
    undefined,
  );
  return {
    current: highest?.state,
    chosen: accepted.filter((a) => a.ballot === highest?.ballot).length >= majority,
  };
}

export class Proposer {
  private readonly warm: LruMap<string, Warm>;
  /** The highest ballot seen per key, so a new round starts above it. */
  private readonly highest: LruMap<string, string>;
  /** Each busy key's calls waiting for its next round. */
  private readonly waiting = new Map<string, Call[]>();
  private readonly majority: number;
  /** Smoothed round-trip time to a majority, in ms (undefined until measured). */
  private roundTripMs: number | undefined;

  private readonly options: ProposerOptions;

  constructor(options: ProposerOptions) {
    this.options = options;
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

  /**
   * Runs `change` on the key's register. A call made while the key's round is under way joins the key's
   * next round, combined with the other calls that arrived meanwhile.
   */
  change(key: string, change: Change): Promise<ChangeResult> {
    const result = new Promise<ChangeResult>((resolve, reject) => {
      const call: Call = { change, resolve, reject };
      const waiting = this.waiting.get(key);
      if (waiting) waiting.push(call);
      else {
        this.waiting.set(key, []);
        void this.drain(key, [call]);
      }
    });
    const observe = this.options.observe;
    if (observe)
      result.then(
        ({ roundTrips, combined }) => observe({ roundTrips, combined }),
        (error: unknown) => observe({ error }),
      );
    return result;
  }

  /** Runs the key's rounds until no call waits: each round takes up to `maxCombined` waiting calls. */
  private async drain(key: string, first: Call[]): Promise<void> {
    let calls = first;
    while (calls.length > 0) {
      await this.run(key, calls).catch((error: unknown) => {
        for (const call of calls) if (!call.error) call.reject(error);
      });
      const waiting = this.waiting.get(key)!;
      calls = waiting.splice(0, this.options.maxCombined ?? 8);
    }
    this.waiting.delete(key);
  }

  /**
   * Applies the live calls' changes in order, each to the state the one before returned; a change that
   * throws ends its call with that error and passes its input on. Answers the last state (`current`
   * when every change left it as it was).
   */
  protected compose(
    calls: Call[],
    current: RegisterState | undefined,
    round: Round,
  ): RegisterState | undefined {
    let state = current;
    for (const call of calls) {
      if (call.error) continue;
      try {
        const next = call.change(state, round);
        call.before = state;
        call.after = next;
        state = next;
      } catch (error) {
        call.error = { error };
        call.reject(error);
      }
    }
    return state;
  }

  /**
   * One key's rounds for `calls`, until a majority accepts their combined change (or a read needs no
   * write): wait for the round, choose the state to propose (phase 1, or the warm state), then send it
   * (phase 2). What a round leaves to the next is in `RoundState`.
   */
  private async run(key: string, calls: Call[]): Promise<void> {
    const maxRounds = this.options.maxRounds ?? 12;
    const state: RoundState = { roundTrips: 0, unanswered: 0, staleWarmState: false };
    for (let round = 0; round < maxRounds; round++) {
      await this.waitForRound(round, state);
      const proposal = await this.choose(key, calls, round, state);
      if (proposal === "retry") continue;
      if (proposal === "ended") return;
      if (await this.accept(key, calls, proposal, round, state)) return;
    }
    throw fail("Contention", `no majority agreed on ${key} within ${maxRounds} rounds; retry later`, {
      key,
    });
  }

  /**
   * Before a round: back off after a lost one, and give the last attempt's missing answers about one
   * round trip, since whether it is void is judged from every replica's answer (a replica that fails or
   * stays silent leaves it adoptable).
   */
  private async waitForRound(round: number, state: RoundState): Promise<void> {
    // A warm attempt rejected means another proposer wrote the key since (a Lambda environment does
    // not see the others' writes), not necessarily that one is writing now: retry at once, unless the
    // rejection shows a write under way.
    if (round > 0 && !state.staleWarmState && !state.carried) await this.backoff(round);
    const last = state.lastAttempt;
    if (last && undecided(last.ballot, last.answers, this.options.transport.replicaIds.length))
      await this.within(last.answers.complete, this.roundTripMs);
    state.staleWarmState = false;
  }

  /**
   * The round's proposal: the calls' changes composed onto the warm state (one phase), or onto the
   * highest state a majority's promises hold (phase 1 first, or the last round's fallback promises).
   * "ended" when no call is left to answer or the calls were answered without a write; "retry" when
   * phase 1 found no majority.
   */
  private async choose(
    key: string,
    calls: Call[],
    round: number,
    state: RoundState,
  ): Promise<Proposal | "retry" | "ended"> {
    const warm = this.warm.get(key);
    const onePhase = warm !== undefined && this.options.onePhaseWhenWarm !== false;
    let ballot: string;
    let next: RegisterState | undefined;
    if (warm && onePhase) {
      ballot = warm.ballot;
      next = this.compose(calls, warm.state, this.roundInfo(state));
      if (!calls.some((call) => !call.error)) return "ended";
    } else {
      const promised = await this.prepare(key, round, state);
      if (!promised) return "retry";
      ballot = promised.ballot;
      const { current, chosen } = highestAccepted(promised.promises, this.majority);
      next = this.compose(calls, current, this.roundInfo(state));
      if (!calls.some((call) => !call.error)) return "ended";
      // A read needs no phase 2 when a majority already accepted the same ballot: that state is chosen.
      if (next === current && (next === undefined || chosen)) {
        this.answer(calls, state);
        return "ended";
      }
    }
    if (next === undefined) {
      this.answer(calls, state);
      return "ended";
    }
    return { ballot, next, onePhase };
  }

  /**
   * Phase 1: a majority's promises for a new ballot, or the ones the last round's rejected warm attempt
   * already carried. After rounds lost, the ballot jumps past the highest seen by more than one: the
   * writers that keep winning raise it by one per write meanwhile, and a ballot just above an old
   * sighting would lose again for good (starvation).
   */
  private async prepare(
    key: string,
    round: number,
    state: RoundState,
  ): Promise<{ ballot: string; promises: PrepareReply[] } | undefined> {
    if (state.carried) {
      const carried = state.carried;
      state.carried = undefined;
      return carried;
    }
    const ballot = nextBallot(this.highest.get(key) ?? "", this.options.proposerId, 1 + 4 * round);
    const prepared = await this.quorum<PrepareReply>({ op: "prepare", key, ballot });
    state.roundTrips++;
    const promises = prepared.replies.filter((reply) => reply.ok);
    if (promises.length < this.majority) {
      state.unanswered = this.outage(prepared) ? state.unanswered + 1 : 0;
      this.noteConflicts(key, prepared, state.unanswered);
      return undefined;
    }
    state.unanswered = 0;
    return { ballot, promises };
  }

  /**
   * Phase 2: the proposal to every acceptor, with the proposer's next ballot as their promise. True when
   * a majority accepted it (the calls are answered and the key is warm); otherwise the round's rejections
   * and failures are noted for the next.
   */
  private async accept(
    key: string,
    calls: Call[],
    { ballot, next, onePhase }: Proposal,
    round: number,
    state: RoundState,
  ): Promise<boolean> {
    const promise = nextBallot(ballot, this.options.proposerId);
    const accepted = await this.quorum<AcceptReply>({
      op: "accept",
      key,
      ballot,
      state: next,
      promise,
      // A warm attempt may be stale: its rejections may do the next round's phase 1.
      ...(onePhase ? { fallback: true as const } : {}),
    });
    state.roundTrips++;
    if (accepted.replies.filter((reply) => reply.ok).length >= this.majority) {
      this.warm.set(key, { state: next, ballot: promise });
      this.highest.set(key, promise);
      this.answer(calls, state);
      return true;
    }
    if (this.outage(accepted)) state.unanswered++;
    else {
      state.unanswered = 0;
      // Retry at once only when no one is between phases: a prepare under way gets its round trip.
      state.staleWarmState = onePhase && round === 0 && !writeInProgress(accepted.replies);
      if (onePhase) state.carried = fallbackPromises(accepted.replies, this.fallbackQuorum());
    }
    state.lastAttempt = { ballot, answers: accepted.all };
    this.noteConflicts(key, accepted, state.unanswered);
    return false;
  }

  /** What a change learns of the round: whether the last attempt is known to be void. */
  private roundInfo(state: RoundState): Round {
    const last = state.lastAttempt;
    return {
      previousAttemptVoid:
        last !== undefined &&
        attemptVoid(last.ballot, last.answers, this.options.transport.replicaIds.length),
    };
  }

  /** Every live call answered with the state it saw and the one it returned. */
  private answer(calls: Call[], state: RoundState): void {
    const combined = calls.filter((call) => !call.error).length;
    for (const call of calls)
      if (!call.error)
        call.resolve({ before: call.before, after: call.after, roundTrips: state.roundTrips, combined });
  }

  /** How many fallback promises of one ballot stand for phase 1: a majority (a negative control breaks it). */
  protected fallbackQuorum(): number {
    return this.majority;
  }

  /**
   * Whether a round failed for want of replicas, not for a rejection: more failed than a majority can
   * spare. A rejection from a live replica beside a dead one's error is contention: a higher ballot may
   * still win with the live majority.
   */
  private outage(outcome: Outcome<PrepareReply | AcceptReply>): boolean {
    return outcome.failures > this.options.transport.replicaIds.length - this.majority;
  }

  private noteConflicts(key: string, outcome: Outcome<PrepareReply | AcceptReply>, unanswered: number): void {
    const answered = outcome.replies.length;
    // One round without a majority of answers may be cold starts or a blip; two in a row is an outage.
    if (this.outage(outcome) && unanswered >= 2) {
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
    const now = this.options.now ?? (() => performance.now());
    const started = now();
    return new Promise((resolve) => {
      const replies: R[] = [];
      let failures = 0;
      let settled = false;
      let complete: () => void = () => {};
      const all: Answers<R> = {
        replies: [],
        failures: 0,
        complete: new Promise<void>((resolve) => {
          complete = resolve;
        }),
      };
      const answered = () => {
        if (all.replies.length + all.failures === ids.length) complete();
      };
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
          // Only a round that reached a majority measures the network (a failed one may be a timeout).
          if (yes >= this.majority) {
            const took = now() - started;
            this.roundTripMs = this.roundTripMs === undefined ? took : 0.8 * this.roundTripMs + 0.2 * took;
          }
          resolve({ replies: [...replies], failures, all });
        }
      };
      for (const id of ids) {
        (this.options.transport.call(id, request as PrepareRequest) as Promise<R>).then(
          (reply) => {
            all.replies.push(reply);
            answered();
            if (settled) return;
            replies.push(reply);
            check();
          },
          () => {
            all.failures++;
            answered();
            if (settled) return;
            failures++;
            check();
          },
        );
      }
    });
  }

  /** Waits for `done`, at most `ms` (the backoff's unit when not measured yet). */
  private within(done: Promise<void>, ms: number | undefined): Promise<void> {
    const sleep =
      this.options.sleep ?? ((wait: number) => new Promise<void>((resolve) => setTimeout(resolve, wait)));
    return Promise.race([done, sleep(ms ?? this.options.backoffBaseMs ?? 10)]);
  }

  /**
   * Waits before round `round` (1, 2, ...) after a rejection: about one round trip, so the proposer that
   * holds the higher ballot can finish its round, plus a jittered share that doubles each round, up to
   * `backoffMaxMs`. The unit is the measured round-trip time (`backoffBaseMs` before one was measured).
   */
  private backoff(round: number): Promise<void> {
    const random = this.options.random ?? Math.random;
    const unit = this.roundTripMs ?? this.options.backoffBaseMs ?? 10;
    const wait = Math.min(this.options.backoffMaxMs ?? 1000, unit * (1 + random() * 2 ** (round - 1)));
    const sleep =
      this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    return sleep(wait);
  }
}
