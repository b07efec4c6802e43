/**
 * A seeded, deterministic simulation of the Paxos registers: the real Proposer and register functions
 * against in-memory acceptors with the same rules, over a network that loses, delays, reorders and
 * duplicates messages and delivers some after the caller gave up (late accepts), with proposers that
 * crash mid-round and restart cold, several concurrent calls on one proposer, write-once, set,
 * compare-and-set and read mixed on the same keys, crowds of 40+ proposers on one key and keys written
 * more often than a register state's history holds. Virtual time: one event runs at a time and every
 * promise chain settles before the next, so a seed always replays the same execution.
 *
 * Half the seeds run the whole stack a user calls (`path: "api"`): the typed client with its retry policy
 * and Idempotency-Keys, over an HTTP network that loses requests and replies, to the Api's router with
 * its Idempotency-Key records (on the DynamoDB model), whose proposer talks to DynamoDBAcceptors, each on
 * its own DynamoDB model table (whose SDK retries a write whose answer was lost). An Api environment that
 * crashes leaves its request's key held until the key's lease ends; the client's retry then runs it again
 * on a fresh environment. The history checked is what the client's callers saw.
 */

import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { paxosContract, paxosHandlers } from "../../packages/cdk/handlers/api/paxos-routes.ts";
import { ApiClient, ApiError, UnknownOutcomeError } from "../../packages/client/src/api-client.ts";
import { ERROR_STATUS } from "../../packages/core/src/api/contract.ts";
import { DomainError } from "../../packages/core/src/errors.ts";
import { contractRouter } from "../../packages/core/src/http/router.ts";
import { IdempotentRequests } from "../../packages/core/src/idempotency/requests.ts";
import { seededRandom } from "../../packages/core/src/mesh/random.ts";
import {
  type AcceptorRecord,
  type AcceptorRequest,
  type AcceptReply,
  type AcceptRequest,
  applyAccept,
  applyPrepare,
  type PrepareReply,
  type PrepareRequest,
  type RegisterState,
} from "../../packages/core/src/paxos/acceptor.ts";
import { DynamoDBAcceptor } from "../../packages/core/src/paxos/dynamodb-acceptor.ts";
import {
  type Call,
  Proposer,
  type ReplicaTransport,
  type Round,
} from "../../packages/core/src/paxos/proposer.ts";
import { proposeOnce, readRegister, setRegister } from "../../packages/core/src/paxos/register.ts";
import {
  checkLinearizable,
  type HistoryEntry,
  type RegisterOp,
  type RegisterOutput,
} from "../support/linearizability.ts";
import { DynamoDBModel } from "./dynamodb-model.ts";
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
  | "minority-fallback"
  /** The Api runs a request again after a dead run without telling the register (api path). */
  | "rerun-unflagged";

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
  /** `direct`: the register functions on a proposer, pure acceptor rules. `api`: the whole stack (above). */
  path?: "direct" | "api";
  workload?: Workload;
  dropRate?: number;
  duplicateRate?: number;
  /** Share of messages delivered to the acceptor only after the caller's timeout. */
  lateRate?: number;
  /** Share of messages delivered late but within the caller's timeout: their replies still count. */
  slowRate?: number;
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
  path: "direct" | "api";
  /** HTTP requests the typed clients sent (every retry counts; 0 on the direct path). */
  httpRequests: number;
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

/**
 * A replica call's timeout. On the api path it is many round trips long, as on AWS (seconds against tens
 * of milliseconds), so a slow reply can come back after many other writes went through.
 */
const CALL_TIMEOUT = { direct: 60, api: 3_000 };

interface Client {
  proposerId: string;
  /** Ends every call of the client's current incarnation: a crash. */
  crash: Promise<"crashed">;
  crashed: boolean;
  /** Told when the incarnation crashes (the api path: its in-flight HTTP requests get no answer). */
  goDown?: () => void;
}

/** How often the HTTP network loses a request, or the reply to one the Api ran (api path). */
const HTTP_LOSS = 0.05;
/** How long a request holds its Idempotency-Key (the Api function's timeout), in virtual ms. */
const API_TIMEOUT = 15_000;

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
  const path = options.path ?? (random() < 0.5 ? "api" : "direct");
  const dropRate = options.dropRate ?? 0.08;
  const slowRate = options.slowRate ?? 0.05;
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

  // The api path's acceptors: the DynamoDB acceptor, each on its own table, whose SDK retries a write
  // whose answer was lost (the retry then finds its own write).
  const tables = acceptors.map(
    () =>
      new DynamoDBModel([{ name: "Replica", hashKey: "pk" }], {
        now: () => scheduler.time,
        random,
        lostAnswerRate: 0.03,
      }),
  );
  const dynamodbAcceptors = tables.map((table) => new DynamoDBAcceptor(table as never, "Replica"));
  const deliver = async (replica: number, request: AcceptorRequest) => {
    let reply: PrepareReply | AcceptReply;
    if (path === "api") {
      const acceptor = dynamodbAcceptors[replica]!;
      reply = request.op === "prepare" ? await acceptor.prepare(request) : await acceptor.accept(request);
    } else {
      const records = acceptors[replica]!;
      const outcome =
        request.op === "prepare"
          ? rules.prepare(records.get(request.key), request)
          : rules.accept(records.get(request.key), request);
      if (outcome.next) records.set(request.key, outcome.next);
      reply = outcome.reply;
    }
    if (!reply.ok && "fallback" in reply && reply.fallback) fallbackPromises++;
    return reply;
  };

  /** Requests slow to every replica but one (by the replica they reach fast), or -1. */
  const slowRequests = new WeakMap<AcceptorRequest, number>();
  const transportFor = (client: Client): ReplicaTransport => ({
    replicaIds,
    // biome-ignore lint/suspicious/noExplicitAny: one body serves both overloads of call.
    call: ((replicaId: string, request: PrepareRequest | AcceptRequest): Promise<any> => {
      // A crashed proposer sends nothing more (messages already sent still arrive).
      if (client.crashed) return new Promise(() => {});
      if (random() < crashRate / 20) {
        client.crashed = true;
        client.goDown?.();
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
        const timeout = CALL_TIMEOUT[path];
        scheduler.at(timeout, () => settle(() => reject(new Error("timeout"))));
        if (random() < dropRate) return;
        const late = random() < lateRate;
        if (late) lateMessages++;
        // Slow: arrives after other rounds went by, and its reply (often a rejection) still counts. Now
        // and then one request is slow to every replica but the first it reaches (a proposer's link that
        // degrades mid-round): its attempt sits on that one replica, where another round may adopt it.
        if (!slowRequests.has(request)) slowRequests.set(request, random() < slowRate ? replica : -1);
        const slowToAllBut = slowRequests.get(request)!;
        const slow = !late && (random() < slowRate || (slowToAllBut >= 0 && replica !== slowToAllBut));
        const copies = random() < duplicateRate ? 2 : 1;
        for (let copy = 0; copy < copies; copy++) {
          const delay = late
            ? timeout + 1 + Math.floor(random() * 100)
            : slow
              ? 25 + Math.floor(random() * (timeout - 50))
              : 1 + Math.floor(random() * 20);
          scheduler.at(delay, async () => {
            // An acceptor that fails (as the DynamoDB one does on a retried accept it cannot vouch for)
            // answers with an error, as the replica function would.
            const reply = await deliver(replica, request).then(
              (value) => ({ value }),
              (error: unknown) => ({ error }),
            );
            if (random() < dropRate) return;
            scheduler.at(1 + Math.floor(random() * 20), () =>
              settle(() => ("error" in reply ? reject(reply.error) : resolve(reply.value))),
            );
          });
        }
      });
    }) as ReplicaTransport["call"],
  });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => scheduler.at(Math.max(1, Math.round(ms)), resolve));

  // The api path's Idempotency-Key records, shared by every Api environment.
  const requestsTable = new DynamoDBModel([{ name: "Requests", hashKey: "pk" }], {
    now: () => scheduler.time,
    random,
    lostAnswerRate: 0.03,
  }) as never as DynamoDBDocumentClient;
  let httpRequests = 0;

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
      // The api path: this incarnation is an Api environment, with its router in front of the proposer.
      const handlers = paxosHandlers(() => proposer);
      const router = contractRouter(
        paxosContract,
        options.bug === "rerun-unflagged"
          ? {
              ...handlers,
              setRegister: (input, event) => handlers.setRegister(input, event, { rerun: false }),
            }
          : handlers,
        { error: () => {} },
        new IdempotentRequests(requestsTable, "Requests", {
          inProgressMs: API_TIMEOUT,
          now: () => scheduler.time,
        }),
      );
      const down = new Promise<"crashed">((resolve) => {
        client.goDown = () => resolve("crashed");
      });
      return { client, proposer, router, down, crash: () => crashNow() };
    };
    let current = incarnation();
    let requestCounter = 0;
    /** The HTTP network to the Api: each request lands on the environment serving now. */
    const network = (async (url: URL, init: RequestInit = {}) => {
      await sleep(1 + random() * 5);
      if (random() < HTTP_LOSS) throw new TypeError("fetch failed: the request was lost");
      if (current.client.crashed) current = incarnation();
      const environment = current;
      const answered = await Promise.race([
        environment.router(apiEvent(new URL(url), init, `r${clientIndex}-${requestCounter++}`)),
        environment.down,
      ]);
      if (answered === "crashed") throw new TypeError("fetch failed: the Api environment crashed");
      await sleep(1 + random() * 5);
      if (random() < HTTP_LOSS) throw new TypeError("fetch failed: the reply was lost");
      return new Response(String(answered.body ?? ""), {
        status: answered.statusCode ?? 200,
        headers: answered.headers as Record<string, string>,
      });
    }) as unknown as typeof fetch;
    const api = new ApiClient({
      endpoint: "http://api.simulated",
      fetch: network,
      sleep,
      random,
      backoffMs: 10,
      maxAttempts: 5,
    });
    let opCounter = 0;
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
        if (path === "api") {
          const before = api.requests;
          const outcome = await performThroughApi(api, key, op, `c${clientIndex}-${opCounter++}`);
          httpRequests += api.requests - before;
          if ("code" in outcome) unanswered[outcome.code] = (unanswered[outcome.code] ?? 0) + 1;
          else {
            entry.ret = scheduler.time;
            entry.output = outcome;
          }
          await sleep(random() * 30);
          continue;
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
    // 40 to 48 proposers take turns on one key, each warm from its own earlier writes. Through the api
    // path, 16 to 20 (its calls last longer, with retries, and a history of 90 overlapping calls is
    // past what the linearizability check can search).
    const count = path === "api" ? 16 + Math.floor(random() * 5) : 40 + Math.floor(random() * 9);
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
    path,
    httpRequests,
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
      if (!linearizable(history)) {
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

/** An HTTP API (payload 2.0) event for a request to the Paxos routes, as API Gateway builds it. */
function apiEvent(url: URL, init: RequestInit, requestId: string): APIGatewayProxyEventV2 {
  const method = String(init.method ?? "GET");
  const key = decodeURIComponent(url.pathname.split("/")[2] ?? "");
  return {
    version: "2.0",
    routeKey: `${method} /paxos/{key}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    pathParameters: { key },
    headers: Object.fromEntries(
      Object.entries((init.headers ?? {}) as Record<string, string>).map(([name, value]) => [
        name.toLowerCase(),
        value,
      ]),
    ),
    body: typeof init.body === "string" ? init.body : undefined,
    isBase64Encoded: false,
    requestContext: { requestId },
  } as unknown as APIGatewayProxyEventV2;
}

/** Runs one operation through the typed client; an unknown outcome leaves it without an answer. */
async function performThroughApi(
  client: ApiClient,
  key: string,
  op: RegisterOp,
  idempotencyKey: string,
): Promise<RegisterOutput | { code: string }> {
  try {
    switch (op.kind) {
      case "propose": {
        const answer = await client.paxos.propose(key, op.value, { idempotencyKey });
        return { kind: "propose", value: answer.value, version: answer.version, won: answer.won };
      }
      case "get": {
        const answer = await client.paxos.read(key);
        return { kind: "get", found: true, version: answer.version, value: answer.value };
      }
      case "set": {
        const answer = await client.paxos.set(key, op.value, { ifVersion: op.ifVersion, idempotencyKey });
        return { kind: "set", ok: true, version: answer.version };
      }
    }
  } catch (error) {
    if (error instanceof ApiError && error.code === "KeyNotFound") return { kind: "get", found: false };
    if (error instanceof ApiError && error.code === "KeyKindConflict") return { kind: "conflict" };
    if (error instanceof ApiError && error.code === "VersionConflict")
      return {
        kind: "set",
        ok: false,
        version: Number(error.details.version),
        value: error.details.value ?? undefined,
      };
    if (error instanceof UnknownOutcomeError) return { code: `unknown ${error.code}` };
    if (error instanceof ApiError) return { code: error.code };
    throw error;
  }
}

/**
 * The linearizability check, with a second, larger search budget for the rare history whose search the
 * first one cannot finish (a crowd with many calls of unknown outcome); past that, it throws.
 */
function linearizable(history: HistoryEntry[]): boolean {
  try {
    return checkLinearizable(history).linearizable;
  } catch {
    return checkLinearizable(history, 100_000_000).linearizable;
  }
}
