/**
 * A seeded, deterministic simulation of the Paxos registers: the real Proposer and register functions
 * against in-memory acceptors with the same rules, over a network that loses, delays, reorders and
 * duplicates messages and delivers some after the caller gave up (late accepts), with proposers that
 * crash mid-round and restart cold, several concurrent calls on one proposer, write-once, set,
 * compare-and-set and read mixed on the same keys, crowds of 40+ proposers on one key and keys written
 * more often than a register state's history holds. Virtual time: one event runs at a time and every
 * promise chain settles before the next, so a seed always replays the same execution.
 */

import { ERROR_STATUS } from "../../shared/api/contract.ts";
import { DomainError } from "../../shared/errors.ts";
import { seededRandom } from "../../shared/mesh/random.ts";
import {
  type AcceptorRecord,
  type AcceptorRequest,
  type AcceptRequest,
  applyAccept,
  applyPrepare,
  type PrepareRequest,
  type RegisterState,
} from "../../shared/paxos/acceptor.ts";
import { type Call, Proposer, type ReplicaTransport, type Round } from "../../shared/paxos/proposer.ts";
import { proposeOnce, readRegister, setRegister } from "../../shared/paxos/register.ts";
import {
  checkLinearizable,
  type HistoryEntry,
  type RegisterOp,
  type RegisterOutput,
} from "../support/linearizability.ts";
import { Scheduler } from "./scheduler.ts";

export interface AcceptorRules {
  prepare: typeof applyPrepare;
  accept: typeof applyAccept;
}

export const CORRECT_RULES: AcceptorRules = { prepare: applyPrepare, accept: applyAccept };

/** A deliberately broken acceptor for the negative control: it accepts below its promise. */
export const BROKEN_RULES: AcceptorRules = {
  prepare: applyPrepare,
  accept: (record: AcceptorRecord | undefined, request: AcceptRequest) =>
    applyAccept(record ? { promised: "", accepted: undefined } : undefined, request),
};

export type Workload = "mixed" | "once" | "crowd" | "long";

/** A register bug for the negative controls, applied where the simulation calls the real registers. */
export type RegisterBug =
  /** Retries a set whose outcome is unknown and reports the retry's answer: applies a change twice. */
  | "retry-unknown"
  /** Reports every write-once answer as won. */
  | "always-won"
  /** Combines the calls on a key by applying each change to the round's state, not the one before's. */
  | "combine-from-current"
  /** Goes to phase 2 on one fallback promise (a minority) instead of a majority's. */
  | "minority-fallback";

/** The proposer with the composition of combined calls broken (negative control). */
class CombineFromCurrent extends Proposer {
  protected override compose(calls: Call[], current: RegisterState | undefined, round: Round) {
    let last = current;
    for (const call of calls) last = super.compose([call], current, round) ?? last;
    return last;
  }
}

/** The proposer that takes a minority of fallback promises for phase 1 (negative control). */
class MinorityFallback extends Proposer {
  protected override fallbackQuorum() {
    return 1;
  }
}

export interface SimulationOptions {
  replicas?: number;
  workload?: Workload;
  dropRate?: number;
  duplicateRate?: number;
  /** Share of messages delivered to the acceptor only after the caller's timeout. */
  lateRate?: number;
  crashRate?: number;
  rules?: AcceptorRules;
  bug?: RegisterBug;
  /** Off: skip the linearizability check (only to show that the negative controls depend on it). */
  checkLinearizability?: boolean;
}

export type Invariant = "write-once-single-value" | "write-once-won" | "linearizable";

export interface SimulationResult {
  seed: number;
  workload: Workload;
  ok: boolean;
  invariant?: Invariant;
  problem?: string;
  operations: number;
  completed: number;
  /** Operations without an answer, by error code ("crashed" for a client that crashed mid-call). */
  unanswered: Record<string, number>;
  messages: number;
  lateMessages: number;
  /** Calls answered by a round their proposer combined with other calls on the same key. */
  combinedCalls: number;
  /** Rejected accepts that promised their fallback ballot (a prepare in the same message). */
  fallbackPromises: number;
  /** The most writes (sets answered or not) on one key, and the most proposers that wrote one key. */
  maxWritesPerKey: number;
  maxProposersPerKey: number;
}

const CALL_TIMEOUT = 60;

interface Client {
  proposerId: string;
  /** Ends every call of the client's current incarnation: a crash. */
  crash: Promise<"crashed">;
  crashed: boolean;
}

export async function simulate(seed: number, options: SimulationOptions = {}): Promise<SimulationResult> {
  const random = seededRandom(seed);
  const replicas = options.replicas ?? (random() < 0.5 ? 3 : 5);
  const workload: Workload =
    options.workload ??
    pick(random(), [
      ["crowd", 0.1],
      ["long", 0.1],
      ["once", 0.1],
      ["mixed", 0.7],
    ]);
  const dropRate = options.dropRate ?? 0.08;
  const duplicateRate = options.duplicateRate ?? 0.05;
  const lateRate = options.lateRate ?? 0.12;
  const crashRate = options.crashRate ?? 0.05;
  const rules = options.rules ?? CORRECT_RULES;
  const scheduler = new Scheduler();
  const acceptors = Array.from({ length: replicas }, () => new Map<string, AcceptorRecord>());
  const replicaIds = acceptors.map((_, index) => `r${index}`);
  const histories = new Map<string, HistoryEntry[]>();
  const writers = new Map<string, Set<string>>();
  const unanswered: Record<string, number> = {};
  let messages = 0;
  let lateMessages = 0;
  /** Calls answered by a round their proposer combined with other calls on the key. */
  let combinedCalls = 0;
  let fallbackPromises = 0;

  const deliver = (replica: number, request: AcceptorRequest) => {
    const records = acceptors[replica]!;
    const { reply, next } =
      request.op === "prepare"
        ? rules.prepare(records.get(request.key), request)
        : rules.accept(records.get(request.key), request);
    if (next) records.set(request.key, next);
    if (!reply.ok && "fallback" in reply && reply.fallback) fallbackPromises++;
    return reply;
  };

  const transportFor = (client: Client): ReplicaTransport => ({
    replicaIds,
    // biome-ignore lint/suspicious/noExplicitAny: one body serves both overloads of call.
    call: ((replicaId: string, request: PrepareRequest | AcceptRequest): Promise<any> => {
      // A crashed proposer sends nothing more (messages already sent still arrive).
      if (client.crashed) return new Promise(() => {});
      if (random() < crashRate / 20) {
        client.crashed = true;
        return new Promise(() => {});
      }
      messages++;
      const replica = replicaIds.indexOf(replicaId);
      return new Promise((resolve, reject) => {
        let settled = false;
        const settle = (fn: () => void) => {
          if (!settled) {
            settled = true;
            fn();
          }
        };
        scheduler.at(CALL_TIMEOUT, () => settle(() => reject(new Error("timeout"))));
        if (random() < dropRate) return;
        const late = random() < lateRate;
        if (late) lateMessages++;
        const copies = random() < duplicateRate ? 2 : 1;
        for (let copy = 0; copy < copies; copy++) {
          const delay = late ? CALL_TIMEOUT + 1 + Math.floor(random() * 100) : 1 + Math.floor(random() * 20);
          scheduler.at(delay, () => {
            const reply = deliver(replica, request);
            if (random() < dropRate) return;
            scheduler.at(1 + Math.floor(random() * 20), () => settle(() => resolve(reply)));
          });
        }
      });
    }) as ReplicaTransport["call"],
  });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => scheduler.at(Math.max(1, Math.round(ms)), resolve));

  let valueCounter = 0;
  const nextOp = (key: string): RegisterOp => {
    const value = `v${valueCounter++}`;
    const roll = random();
    if (workload === "once") return roll < 0.8 ? { kind: "propose", value } : { kind: "get" };
    if (workload === "crowd" || workload === "long")
      return roll < 0.85
        ? { kind: "set", value }
        : roll < 0.95
          ? { kind: "get" }
          : { kind: "propose", value };
    // Mixed: keys of both kinds and attempts to use each with the other kind's operation.
    const kindBias = key === "once" ? 0.5 : key === "register" ? -0.3 : 0;
    if (roll < 0.2 + kindBias) return { kind: "propose", value };
    if (roll < 0.45) return { kind: "get" };
    if (roll < 0.75) return { kind: "set", value };
    return { kind: "set", value, ifVersion: Math.floor(random() * 4) };
  };

  /** One client: a proposer shared by `parallel` loops of calls, restarted cold after a crash. */
  const runClient = async (
    clientIndex: number,
    parallel: number,
    ops: number,
    keys: string[],
    start: number,
  ) => {
    await sleep(start);
    let generation = 0;
    let crashNow: () => void = () => {};
    const incarnation = () => {
      const client: Client = {
        proposerId: `c${clientIndex}g${generation++}`,
        crashed: false,
        crash: new Promise((resolve) => {
          crashNow = () => resolve("crashed");
        }),
      };
      const Kind =
        options.bug === "combine-from-current"
          ? CombineFromCurrent
          : options.bug === "minority-fallback"
            ? MinorityFallback
            : Proposer;
      const proposer = new Kind({
        proposerId: client.proposerId,
        transport: transportFor(client),
        maxRounds: 8,
        backoffBaseMs: 5,
        backoffMaxMs: 80,
        random,
        sleep,
        now: () => scheduler.time,
        onePhaseWhenWarm: random() < 0.8,
        observe: (outcome) => {
          if ("combined" in outcome && outcome.combined > 1) combinedCalls++;
        },
      });
      return { client, proposer, crash: () => crashNow() };
    };
    let current = incarnation();
    const loop = async () => {
      for (let i = 0; i < ops; i++) {
        const key = keys[Math.floor(random() * keys.length)]!;
        const op = nextOp(key);
        const entry: HistoryEntry = { op, call: scheduler.time };
        const history = histories.get(key) ?? [];
        histories.set(key, history);
        history.push(entry);
        if (op.kind !== "get") {
          const set = writers.get(key) ?? new Set();
          writers.set(key, set);
          set.add(`c${clientIndex}`);
        }
        const { client, proposer } = current;
        const outcome = await Promise.race([perform(proposer, key, op, options.bug), client.crash]);
        if (client.crashed && current.client === client) {
          current.crash();
          current = incarnation();
        }
        if (outcome === "crashed" || client.crashed) {
          unanswered.crashed = (unanswered.crashed ?? 0) + 1;
          continue;
        }
        if ("code" in outcome) unanswered[outcome.code] = (unanswered[outcome.code] ?? 0) + 1;
        else {
          entry.ret = scheduler.time;
          entry.output = outcome;
        }
        await sleep(random() * 30);
      }
    };
    await Promise.all(Array.from({ length: parallel }, () => loop()));
  };

  const clients: Array<Promise<void>> = [];
  if (workload === "crowd") {
    // 40 to 48 proposers take turns on one key, each warm from its own earlier writes.
    const count = 40 + Math.floor(random() * 9);
    for (let index = 0; index < count; index++)
      clients.push(runClient(index, 1, 2, ["crowd"], Math.floor(random() * 3000)));
  } else if (workload === "long") {
    // One key written 60+ times by a few proposers: the register's history overflows.
    const count = 2 + Math.floor(random() * 2);
    for (let index = 0; index < count; index++) clients.push(runClient(index, 1, 36, ["long"], 0));
  } else if (workload === "once") {
    // Dueling proposers of one write-once key.
    const count = 3 + Math.floor(random() * 4);
    for (let index = 0; index < count; index++)
      clients.push(runClient(index, 1 + Math.floor(random() * 2), 3, ["once"], Math.floor(random() * 50)));
  } else {
    const count = 2 + Math.floor(random() * 3);
    for (let index = 0; index < count; index++)
      clients.push(runClient(index, 1 + Math.floor(random() * 3), 4, ["once", "register", "mixed"], 0));
  }
  void Promise.all(clients);
  // Operations still waiting when the events run out stay without an answer.
  await scheduler.run(400_000);

  const all = [...histories.values()].flat();
  const result = {
    seed,
    workload,
    operations: all.length,
    completed: all.filter((entry) => entry.output).length,
    unanswered,
    messages,
    lateMessages,
    combinedCalls,
    fallbackPromises,
    maxWritesPerKey: Math.max(
      0,
      ...[...histories.values()].map((history) => history.filter((entry) => entry.op.kind !== "get").length),
    ),
    maxProposersPerKey: Math.max(0, ...[...writers.values()].map((set) => set.size)),
  };
  for (const [key, history] of histories) {
    const proposals = history.flatMap((entry) =>
      entry.op.kind === "propose" && entry.output?.kind === "propose"
        ? [{ op: entry.op, output: entry.output }]
        : [],
    );
    if (new Set(proposals.map(({ output }) => JSON.stringify(output.value))).size > 1)
      return fail(result, "write-once-single-value", `two different values chosen for write-once key ${key}`);
    for (const { op, output } of proposals) {
      if (output.won !== (output.value === op.value))
        return fail(result, "write-once-won", `a proposer of ${key} was told won: ${output.won} wrongly`);
    }
  }
  if (options.checkLinearizability !== false) {
    for (const [key, history] of histories) {
      if (!checkLinearizable(history).linearizable) {
        if (process.env.SIM_DEBUG)
          console.log(JSON.stringify(history, null, 0).replaceAll('},{"op"', '},\n{"op"'));
        return fail(result, "linearizable", `history of ${key} is not linearizable`);
      }
    }
  }
  return { ...result, ok: true };
}

function pick<T>(roll: number, choices: Array<[T, number]>): T {
  let sum = 0;
  for (const [choice, weight] of choices) {
    sum += weight;
    if (roll < sum) return choice;
  }
  return choices[choices.length - 1]![0];
}

const fail = (
  result: Omit<SimulationResult, "ok">,
  invariant: Invariant,
  problem: string,
): SimulationResult => ({ ...result, ok: false, invariant, problem });

/** Runs one operation through the real register functions; an error leaves the outcome unknown. */
async function perform(
  proposer: Proposer,
  key: string,
  op: RegisterOp,
  bug?: RegisterBug,
): Promise<RegisterOutput | { code: string }> {
  try {
    switch (op.kind) {
      case "propose": {
        const answer = await proposeOnce(proposer, key, op.value);
        const won = bug === "always-won" ? true : answer.won;
        return { kind: "propose", value: answer.value, version: answer.version, won };
      }
      case "get": {
        const answer = await readRegister(proposer, key);
        return { kind: "get", found: true, version: answer.version, value: answer.value };
      }
      case "set": {
        const answer = await setRegister(proposer, key, op.value, op.ifVersion).catch((error) => {
          if (bug === "retry-unknown" && error instanceof DomainError && ERROR_STATUS[error.code] === 503)
            return setRegister(proposer, key, op.value, op.ifVersion);
          throw error;
        });
        return { kind: "set", ok: true, version: answer.version };
      }
    }
  } catch (error) {
    if (error instanceof DomainError && error.code === "KeyNotFound") return { kind: "get", found: false };
    if (error instanceof DomainError && error.code === "KeyKindConflict") return { kind: "conflict" };
    if (error instanceof DomainError && error.code === "VersionConflict") {
      return {
        kind: "set",
        ok: false,
        version: Number(error.details.version),
        value: error.details.value ?? undefined,
      };
    }
    if (error instanceof DomainError && error.details.gaveUp)
      return { code: `${error.code} after ${error.details.gaveUp}` };
    return { code: error instanceof DomainError ? error.code : "error" };
  }
}
