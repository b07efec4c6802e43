/**
 * A seeded, deterministic simulation of the sticky lookup service: the real LeaseService (two service
 * instances, each with its own clock) on the DynamoDB model (lagging index, stale reads, paged queries,
 * transaction conflicts, SDK retries of writes whose answer was lost), with latency on every request, so
 * heartbeats, lookups, moves, releases and state writes interleave as they do on AWS.
 *
 * The world around the service is what is simulated: three servers whose clocks are off true time by up
 * to `clockOffsetMs` (by default exactly ±maxSkewMs: the worst case the bound allows), which heartbeat,
 * crash or pause and come back, release sessions and write their state (a pause can hold a write back);
 * front ends that look sessions up and move them; answers that reach a server late; a service instance
 * that pauses between reading a lease and committing its write (a frozen Lambda environment, a slow
 * network), so heartbeats, reassignments and state writes land inside another's read-to-commit window.
 * A server acts on a
 * lease until `holderValidUntil` (rules.ts) by its own clock, and ignores answers carrying a token it
 * released (as packages/client/src/lookup-client.ts does).
 *
 * Invariants, checked as the run goes:
 * - single-holder: at no instant do two servers believe, by their own clocks, that they hold a session;
 * - tokens-grow: a session's fencing token never goes back, and every new assignment raises it;
 * - fenced-state: no state write lands with a token lower than one that landed before.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { DomainError } from "../../packages/core/src/errors.ts";
import { holderValidUntil, type LeaseConfig } from "../../packages/core/src/leases/rules.ts";
import { LEASES_BY_SERVER_INDEX, LeaseService } from "../../packages/core/src/leases/service.ts";
import { seededRandom } from "../../packages/core/src/mesh/random.ts";
import { DynamoDBModel } from "./dynamodb-model.ts";
import { Scheduler } from "./scheduler.ts";

export type LeaseInvariant = "single-holder" | "tokens-grow" | "fenced-state";

/** Deliberately broken worlds for the negative controls. */
export type LeaseBug =
  /** The service does not wait out the skew bound before reassigning (configured with maxSkewMs 0). */
  | "no-skew-wait"
  /** Lease items expire (as a TTL on the lease table would do): tokens start again from 1. */
  | "lease-ttl"
  /** State writes skip the fence: they land whatever the token. */
  | "unfenced-state"
  /** A takeover of an expired holder's lease does not check that the registration is still expired. */
  | "takeover-unchecked"
  /** A state write does not check that the lease is unchanged since it was read (`rvn`). */
  | "state-write-without-rvn";

export interface LeaseSimulationOptions {
  config?: LeaseConfig;
  /** Each clock is off true time by ±clockOffsetMs (the sign at random; maxSkewMs by default). */
  clockOffsetMs?: number;
  /** Virtual run time. */
  durationMs?: number;
  bug?: LeaseBug;
  /** Share of write transactions held back between read and commit (0.03 by default). */
  pauseRate?: number;
  /** Receives a line per belief change and answer, for replaying a failing seed. */
  trace?: (line: string) => void;
}

export interface LeaseSimulationResult {
  ok: boolean;
  invariant?: LeaseInvariant;
  violation?: string;
  assignments: number;
  acceptedWrites: number;
  rejectedWrites: number;
  moves: number;
  releases: number;
}

const SERVERS = ["s0", "s1", "s2"];
const SESSIONS = ["x", "y", "z"];

interface Belief {
  token: number;
  expiresAt: number;
}

export async function simulateLeases(
  seed: number,
  options: LeaseSimulationOptions = {},
): Promise<LeaseSimulationResult> {
  const config = options.config ?? { leaseDurationMs: 1_000, maxSkewMs: 100 };
  const offsetBound = options.clockOffsetMs ?? config.maxSkewMs;
  const random = seededRandom(seed);
  const scheduler = new Scheduler();
  const now = () => scheduler.time;
  const sleep = (ms: number) => scheduler.sleep(ms);
  const offset = () => (random() < 0.5 ? -1 : 1) * offsetBound * (random() < 0.8 ? 1 : random());
  const serverClock = new Map(SERVERS.map((id) => [id, offset()]));
  const end = options.durationMs ?? 6 * config.leaseDurationMs;

  const model = new DynamoDBModel(
    [
      {
        name: "Leases",
        hashKey: "sessionId",
        indexes: [{ name: LEASES_BY_SERVER_INDEX, hashKey: "serverId", projection: "KEYS_ONLY" }],
      },
      { name: "Servers", hashKey: "serverId" },
    ],
    {
      now,
      random,
      indexLagMs: 50,
      staleReadMs: 50,
      pageSize: 2,
      lostAnswerRate: 0.03,
      transactionConflictRate: 0.02,
    },
  );
  // Every request takes a few milliseconds to land, so calls of different actors interleave; now and then
  // a write transaction is held back up to a lease duration after its reads (the instance paused).
  const pauseRate = options.pauseRate ?? 0.03;
  const network = {
    send: async (command: TransactWriteCommand) => {
      await sleep(1 + random() * 8);
      if (command instanceof TransactWriteCommand) {
        if (random() < pauseRate) await sleep(random() * config.leaseDurationMs);
        // A takeover of an expired holder: now and then the holder comes back and heartbeats, through the
        // instance whose clock is furthest behind, between the takeover's reads and its commit.
        const holder = expiredHolderOf(command);
        if (holder && random() < 0.3) {
          down.delete(holder);
          await heartbeat(holder, behind).catch(ignoreConflicts);
        }
        return model.send(mutate(command, options.bug) as never);
      }
      return model.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  const serviceConfig = options.bug === "no-skew-wait" ? { ...config, maxSkewMs: 0 } : config;
  const offsets = [offset(), offset()];
  const instances = offsets.map(
    (clockOffset) =>
      new LeaseService(network, {
        leaseTable: "Leases",
        serverTable: "Servers",
        config: serviceConfig,
        now: () => now() + clockOffset,
        sleep,
        pollMs: 20,
      }),
  );
  const instance = () => instances[Math.floor(random() * instances.length)]!;
  const behind = instances[offsets.indexOf(Math.min(...offsets))]!;

  const result: LeaseSimulationResult = {
    ok: true,
    assignments: 0,
    acceptedWrites: 0,
    rejectedWrites: 0,
    moves: 0,
    releases: 0,
  };
  const fail = (invariant: LeaseInvariant, violation: string) => {
    if (result.ok) Object.assign(result, { ok: false, invariant, violation: `at ${now()} ms: ${violation}` });
  };

  // What each server believes it holds, and the highest token it gave up per session.
  const beliefs = new Map(SERVERS.map((id) => [id, new Map<string, Belief>()]));
  const released = new Map(SERVERS.map((id) => [id, new Map<string, number>()]));
  const down = new Set<string>();
  const localTime = (serverId: string) => now() + serverClock.get(serverId)!;
  const holds = (serverId: string, session: string) => {
    const belief = beliefs.get(serverId)!.get(session);
    return belief !== undefined && localTime(serverId) < holderValidUntil(belief.expiresAt, config);
  };
  /** An answer naming `serverId` as the holder reaches it after a delay. */
  const trace = options.trace ?? (() => {});
  const tell = (serverId: string, session: string, token: number, expiresAt: number, via: string) =>
    scheduler.at(1 + Math.floor(random() * 30), () => {
      if (token <= (released.get(serverId)!.get(session) ?? 0)) return;
      const belief = beliefs.get(serverId)!;
      const known = belief.get(session);
      if (!known || known.token < token || (known.token === token && known.expiresAt < expiresAt)) {
        belief.set(session, { token, expiresAt });
        trace(
          `${now()} ${serverId} (clock ${localTime(serverId).toFixed(0)}) holds ${session} token ${token} until ${expiresAt} (${via})`,
        );
      }
    });

  const ignoreConflicts = (error: unknown) => {
    if (!(error instanceof DomainError)) throw error;
  };

  const heartbeat = async (serverId: string, via = instance()) => {
    const answer = await via.heartbeat(serverId);
    scheduler.at(1 + Math.floor(random() * 30), () => {
      const belief = beliefs.get(serverId)!;
      // Told what it holds now: anything not listed is no longer its own.
      for (const session of [...belief.keys()])
        if (!answer.leases.some((lease) => lease.sessionId === session)) belief.delete(session);
    });
    for (const lease of answer.leases)
      tell(
        serverId,
        lease.sessionId,
        lease.fencingToken,
        lease.leaseExpiresAt,
        `heartbeat (${answer.epoch})`,
      );
  };

  const highestWrite = new Map<string, number>();
  const writeState = async (serverId: string, session: string, token: number) => {
    try {
      if (options.bug === "unfenced-state") {
        await network.send(
          // The broken variant: a write that does not ask the service's fence at all.
          new UpdateCommand({
            TableName: "Leases",
            Key: { sessionId: session },
            UpdateExpression: "SET stateToken = :token",
            ExpressionAttributeValues: { ":token": token },
          }) as never,
        );
      } else await instance().writeState(session, serverId, token, { by: serverId, token });
      if (token < (highestWrite.get(session) ?? 0))
        fail(
          "fenced-state",
          `a state write of ${session} with token ${token} landed after token ${highestWrite.get(session)}`,
        );
      highestWrite.set(session, Math.max(highestWrite.get(session) ?? 0, token));
      result.acceptedWrites++;
    } catch (error) {
      ignoreConflicts(error);
      result.rejectedWrites++;
    }
  };

  const server = async (serverId: string) => {
    let nextHeartbeat = 0;
    while (now() < end && result.ok) {
      await sleep(10 + random() * 30);
      if (down.has(serverId)) {
        if (random() < 0.04) down.delete(serverId);
        continue;
      }
      if (random() < 0.01) {
        down.add(serverId); // crashed or paused: no heartbeats; its clock and beliefs run on
        continue;
      }
      if (now() >= nextHeartbeat) {
        nextHeartbeat = now() + config.leaseDurationMs / 4 + random() * (config.leaseDurationMs / 4);
        void heartbeat(serverId).catch(ignoreConflicts);
      }
      const belief = beliefs.get(serverId)!;
      for (const [session, held] of belief) {
        if (!holds(serverId, session)) continue;
        if (random() < 0.02) {
          // Graceful handoff: forget first, then tell the service.
          belief.delete(session);
          released.get(serverId)!.set(session, held.token);
          result.releases++;
          void instance().release(session, serverId, held.token).catch(ignoreConflicts);
        } else if (random() < 0.1) {
          // A pause may hold the write back for a while.
          const delay = random() < 0.1 ? random() * 3 * config.leaseDurationMs : 0;
          scheduler.at(Math.max(1, delay), () => void writeState(serverId, session, held.token));
        }
      }
    }
  };

  const frontEnd = async () => {
    while (now() < end && result.ok) {
      await sleep(10 + random() * 40);
      const session = SESSIONS[Math.floor(random() * SESSIONS.length)]!;
      try {
        if (random() < 0.1) {
          const target = SERVERS[Math.floor(random() * SERVERS.length)]!;
          result.moves++;
          const moved = await instance().move(session, target, random() < 0.5);
          tell(moved.serverId, session, moved.fencingToken, moved.leaseExpiresAt, "move");
        } else {
          const answer = await instance().lookup(session);
          tell(answer.serverId, session, answer.fencingToken, answer.leaseExpiresAt, "lookup");
        }
      } catch (error) {
        ignoreConflicts(error);
      }
    }
  };

  // The lease items as a strongly consistent read sees them, checked as time goes.
  const tokens = new Map<string, { token: number; holder: string }>();
  const check = () => {
    for (const lease of model.items("Leases")) {
      const sessionId = String(lease.sessionId);
      const token = Number(lease.fencingToken);
      const holder = `${lease.serverId}/${lease.serverEpoch}`;
      const before = tokens.get(sessionId);
      if (before && (token < before.token || (holder !== before.holder && token === before.token)))
        fail("tokens-grow", `${sessionId}'s token went from ${before.token} to ${token}`);
      if (!before || holder !== before.holder || token !== before.token) {
        if (before) result.assignments++;
        tokens.set(sessionId, { token, holder });
      }
    }
    for (const session of SESSIONS) {
      const holders = SERVERS.filter((serverId) => holds(serverId, session));
      if (holders.length > 1)
        fail("single-holder", `${holders.join(" and ")} both believe they hold ${session}`);
    }
  };
  const checker = async () => {
    while (now() < end && result.ok) {
      await sleep(10);
      check();
      if (options.bug === "lease-ttl" && random() < 0.004) {
        const victim = SESSIONS[Math.floor(random() * SESSIONS.length)]!;
        await model.send(new DeleteCommand({ TableName: "Leases", Key: { sessionId: victim } }));
      }
    }
  };

  const actors = [...SERVERS.map((serverId) => server(serverId)), frontEnd(), frontEnd(), checker()];
  void Promise.all(actors);
  await scheduler.run(2_000_000);
  return result;
}

/** The condition a takeover puts on the expired holder's registration (service.ts `assign`). */
const TAKEOVER_CHECK = "epoch <> :epoch OR expiresAt < :cutoff";

/**
 * The broken variants of the service's own transactions (negative controls): the guard is taken out of
 * the request the real LeaseService sends, so the service code stays as it ships.
 */
function mutate(command: TransactWriteCommand, bug: LeaseBug | undefined): TransactWriteCommand {
  type Action = {
    ConditionCheck?: { ConditionExpression?: string };
    Update?: {
      UpdateExpression?: string;
      ConditionExpression?: string;
      ExpressionAttributeValues?: Record<string, unknown>;
    };
  };
  const actions = (command.input.TransactItems ?? []) as Action[];
  if (bug === "takeover-unchecked") {
    const kept = actions.filter((action) => action.ConditionCheck?.ConditionExpression !== TAKEOVER_CHECK);
    return new TransactWriteCommand({ ...command.input, TransactItems: kept as never });
  }
  if (bug === "state-write-without-rvn") {
    const kept = actions.map((action) =>
      action.Update?.UpdateExpression?.startsWith("SET #state") &&
      action.Update.ConditionExpression === "rvn = :rvn"
        ? {
            Update: {
              ...action.Update,
              ConditionExpression: "attribute_exists(sessionId)",
              ExpressionAttributeValues: Object.fromEntries(
                Object.entries(action.Update.ExpressionAttributeValues ?? {}).filter(
                  ([name]) => name !== ":rvn",
                ),
              ),
            },
          }
        : action,
    );
    return new TransactWriteCommand({ ...command.input, TransactItems: kept as never });
  }
  return command;
}

/** The server whose expired registration a takeover checks (undefined for any other transaction). */
function expiredHolderOf(command: TransactWriteCommand): string | undefined {
  for (const action of command.input.TransactItems ?? []) {
    const check = action.ConditionCheck as
      | { ConditionExpression?: string; Key?: { serverId?: string } }
      | undefined;
    if (check?.ConditionExpression === TAKEOVER_CHECK) return check.Key?.serverId;
  }
  return undefined;
}
