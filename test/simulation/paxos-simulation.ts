/**
 * A seeded, deterministic simulation of the Paxos registers: the real Proposer against in-memory
 * acceptors with the same rules, over a network that loses, delays, reorders and duplicates messages,
 * with proposers that crash mid-round and restart cold, and several proposers dueling on the same keys.
 * Virtual time: one event runs at a time and every promise chain settles before the next, so a seed
 * always replays the same execution.
 */

import { AppError } from "../../shared/errors.ts";
import { seededRandom } from "../../shared/mesh/random.ts";
import {
  type AcceptorRecord,
  type AcceptorRequest,
  type AcceptRequest,
  applyAccept,
  applyPrepare,
  type PrepareRequest,
} from "../../shared/paxos/acceptor.ts";
import { Proposer, type ReplicaTransport } from "../../shared/paxos/proposer.ts";
import { proposeOnce, readRegister, setRegister } from "../../shared/paxos/register.ts";
import {
  checkLinearizable,
  type HistoryEntry,
  type RegisterOp,
  type RegisterOutput,
} from "../support/linearizability.ts";

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

export interface SimulationOptions {
  replicas?: number;
  clients?: number;
  opsPerClient?: number;
  dropRate?: number;
  duplicateRate?: number;
  crashRate?: number;
  rules?: AcceptorRules;
}

export interface SimulationResult {
  seed: number;
  ok: boolean;
  problem?: string;
  operations: number;
  completed: number;
}

class Scheduler {
  time = 0;
  private sequence = 0;
  private readonly events: Array<{ time: number; sequence: number; run: () => void }> = [];

  at(delay: number, run: () => void): void {
    this.events.push({ time: this.time + delay, sequence: this.sequence++, run });
  }

  async run(maxEvents: number): Promise<void> {
    for (let count = 0; count < maxEvents && this.events.length > 0; count++) {
      let next = 0;
      for (let i = 1; i < this.events.length; i++) {
        const a = this.events[i]!;
        const b = this.events[next]!;
        if (a.time < b.time || (a.time === b.time && a.sequence < b.sequence)) next = i;
      }
      const event = this.events.splice(next, 1)[0]!;
      this.time = event.time;
      event.run();
      // Let every promise chain the event started settle before the next event.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const CALL_TIMEOUT = 60;

export async function simulate(seed: number, options: SimulationOptions = {}): Promise<SimulationResult> {
  const random = seededRandom(seed);
  const replicas = options.replicas ?? (random() < 0.5 ? 3 : 5);
  const clients = options.clients ?? 3;
  const opsPerClient = options.opsPerClient ?? 6;
  const dropRate = options.dropRate ?? 0.1;
  const duplicateRate = options.duplicateRate ?? 0.05;
  const crashRate = options.crashRate ?? 0.1;
  const rules = options.rules ?? CORRECT_RULES;
  const scheduler = new Scheduler();
  const acceptors = Array.from({ length: replicas }, () => new Map<string, AcceptorRecord>());
  const replicaIds = acceptors.map((_, index) => `r${index}`);
  const histories = new Map<string, HistoryEntry[]>();

  const deliver = (replica: number, request: AcceptorRequest) => {
    const records = acceptors[replica]!;
    const { reply, next } =
      request.op === "prepare"
        ? rules.prepare(records.get(request.key), request)
        : rules.accept(records.get(request.key), request);
    if (next) records.set(request.key, next);
    return reply;
  };

  const transportFor = (client: { crashBudget: number; onCrash: () => void }): ReplicaTransport => ({
    replicaIds,
    // biome-ignore lint/suspicious/noExplicitAny: one body serves both overloads of call.
    call: ((replicaId: string, request: PrepareRequest | AcceptRequest): Promise<any> => {
      if (client.crashBudget-- === 0) client.onCrash();
      if (client.crashBudget < 0) return new Promise(() => {}); // a crashed proposer sends nothing more
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
        const copies = random() < duplicateRate ? 2 : 1;
        for (let copy = 0; copy < copies; copy++) {
          scheduler.at(1 + Math.floor(random() * 20), () => {
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

  const runClient = async (clientIndex: number) => {
    let generation = 0;
    const state = { crashBudget: Number.POSITIVE_INFINITY, onCrash: () => {} };
    let proposer = (): Proposer => {
      throw new Error("unset");
    };
    const restart = () => {
      const instance = new Proposer({
        proposerId: `c${clientIndex}g${generation++}`,
        transport: transportFor(state),
        maxRounds: 8,
        backoffBaseMs: 5,
        backoffMaxMs: 80,
        random,
        sleep,
        onePhaseWhenWarm: random() < 0.8,
      });
      proposer = () => instance;
    };
    restart();
    for (let i = 0; i < opsPerClient; i++) {
      const roll = random();
      const key = roll < 0.3 ? "once" : "register";
      const value = `c${clientIndex}-${i}`;
      let op: RegisterOp;
      if (key === "once") op = { kind: "propose", value };
      else if (roll < 0.55) op = { kind: "get" };
      else if (roll < 0.8) op = { kind: "set", value };
      else op = { kind: "set", value, ifVersion: Math.floor(random() * 4) };
      const entry: HistoryEntry = { op, call: scheduler.time };
      const history = histories.get(key) ?? [];
      histories.set(key, history);
      history.push(entry);

      // A crash cuts the operation off after a random number of messages, then the client restarts cold.
      let crashed: () => void = () => {};
      const crash = new Promise<"crashed">((resolve) => {
        crashed = () => resolve("crashed");
      });
      state.crashBudget = random() < crashRate ? Math.floor(random() * 8) : Number.POSITIVE_INFINITY;
      state.onCrash = crashed;
      const outcome = await Promise.race([perform(proposer(), key, op), crash]);
      if (outcome === "crashed") {
        state.crashBudget = Number.POSITIVE_INFINITY;
        restart();
        continue;
      }
      state.crashBudget = Number.POSITIVE_INFINITY;
      if (outcome !== "unknown") {
        entry.ret = scheduler.time;
        entry.output = outcome;
      }
      await sleep(random() * 30);
    }
  };

  void Promise.all(Array.from({ length: clients }, (_, index) => runClient(index)));
  // Operations still waiting when the events run out stay without an answer.
  await scheduler.run(200_000);

  const all = [...histories.values()].flat();
  const result = { seed, operations: all.length, completed: all.filter((entry) => entry.output).length };
  const proposals = (histories.get("once") ?? []).flatMap((entry) =>
    entry.output?.kind === "propose" ? [entry.output] : [],
  );
  if (new Set(proposals.map((output) => JSON.stringify(output.value))).size > 1) {
    return { ...result, ok: false, problem: "two different values chosen for a write-once key" };
  }
  if (proposals.filter((output) => output.won).length > 1) {
    return { ...result, ok: false, problem: "two proposers were told they won a write-once key" };
  }
  for (const [key, history] of histories) {
    if (!checkLinearizable(history).linearizable) {
      if (process.env.SIM_DEBUG)
        console.log(JSON.stringify(history, null, 0).replaceAll('},{"op"', '},\n{"op"'));
      return { ...result, ok: false, problem: `history of ${key} is not linearizable` };
    }
  }
  return { ...result, ok: true };
}

/** Runs one operation; errors (no quorum, contention) leave the outcome unknown. */
async function perform(proposer: Proposer, key: string, op: RegisterOp): Promise<RegisterOutput | "unknown"> {
  try {
    switch (op.kind) {
      case "propose": {
        const answer = await proposeOnce(proposer, key, op.value);
        return { kind: "propose", value: answer.value, version: answer.version, won: answer.won };
      }
      case "get": {
        const answer = await readRegister(proposer, key);
        return { kind: "get", found: true, version: answer.version, value: answer.value };
      }
      case "set": {
        const answer = await setRegister(proposer, key, op.value, op.ifVersion);
        return { kind: "set", ok: true, version: answer.version };
      }
    }
  } catch (error) {
    if (error instanceof AppError && error.code === "KeyNotFound") return { kind: "get", found: false };
    if (error instanceof AppError && error.code === "VersionConflict") {
      return {
        kind: "set",
        ok: false,
        version: Number(error.details.version),
        value: error.details.value ?? undefined,
      };
    }
    return "unknown";
  }
}
