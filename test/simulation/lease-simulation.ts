/**
 * A seeded simulation of the lookup service's lease protocol under clock skew, crashes, pauses and
 * delayed answers, on the same rules the service uses (shared/leases/rules.ts) and a store that applies
 * each operation atomically with the service's conditions.
 *
 * Each actor (three servers, two service instances) has its own clock, off real time by up to
 * `clockOffsetMs`. Servers heartbeat, stop (crash or pause) and resume; service instances look sessions
 * up (assigning them when free) and move them; answers reach servers after a random delay. A server
 * believes it holds a session until `expiresAt - maxSkew` by its own clock, as the client library does.
 *
 * Checked at every step: no two servers believe they hold the same session at once (while the clocks
 * stay within the bound: offsets of at most maxSkew/2 each), fencing tokens grow by one per assignment,
 * and the state accepts writes only with the newest token, so a paused holder's late write bounces.
 */
import {
  canExtendRegistration,
  fenceAccepts,
  type LeaseConfig,
  type LeaseRecord,
  leaseExpiry,
  leaseStatus,
  nextFencingToken,
  type ServerRecord,
  serverLive,
} from "../../shared/leases/rules.ts";
import { seededRandom } from "../../shared/mesh/random.ts";

export interface LeaseSimulationOptions {
  config?: LeaseConfig;
  /** Each clock is off real time by a random amount within ±clockOffsetMs. */
  clockOffsetMs?: number;
  steps?: number;
  trace?: (line: string) => void;
}

export interface LeaseSimulationResult {
  ok: boolean;
  violation?: string;
  assignments: number;
  acceptedWrites: number;
  rejectedWrites: number;
}

const TICK_MS = 10;
const SERVERS = ["s0", "s1", "s2"];
const SESSIONS = ["x", "y", "z"];

export function simulateLeases(seed: number, options: LeaseSimulationOptions = {}): LeaseSimulationResult {
  const config = options.config ?? { leaseDurationMs: 1_000, maxSkewMs: 100 };
  const offsetBound = options.clockOffsetMs ?? config.maxSkewMs / 2;
  const random = seededRandom(seed);
  const offset = () => (random() * 2 - 1) * offsetBound;
  const serverClock = new Map(SERVERS.map((id) => [id, offset()]));
  const serviceClocks = [offset(), offset()];

  // The store: what the tables hold.
  const servers = new Map<string, ServerRecord>();
  const leases = new Map<string, LeaseRecord>();
  const stateToken = new Map<string, number>();
  let epochs = 0;
  let rvns = 0;

  // What each server believes: session → (token, until by its own clock); and its pending answers.
  const beliefs = new Map(SERVERS.map((id) => [id, new Map<string, { token: number; expiresAt: number }>()]));
  // The tokens each server gave up: a late answer that still lists one must not bring it back.
  const releasedTokens = new Map(SERVERS.map((id) => [id, new Map<string, number>()]));
  const deliveries: Array<{ at: number; apply: () => void }> = [];
  const down = new Set<string>();
  const pendingWrites: Array<{ at: number; server: string; session: string; token: number }> = [];
  const result: LeaseSimulationResult = { ok: true, assignments: 0, acceptedWrites: 0, rejectedWrites: 0 };
  const fail = (violation: string) => {
    if (result.ok) Object.assign(result, { ok: false, violation });
  };

  const log = (line: string) => options.trace?.(line);
  const deliver = (now: number, apply: () => void) =>
    deliveries.push({ at: now + Math.floor(random() * 60), apply });

  const heartbeat = (t: number, serverId: string, service: number) => {
    const now = t + serviceClocks[service]!;
    const current = servers.get(serverId);
    const record: ServerRecord = canExtendRegistration(current, now)
      ? { ...current!, expiresAt: now + config.leaseDurationMs }
      : { serverId, epoch: `e${epochs++}`, expiresAt: now + config.leaseDurationMs };
    servers.set(serverId, record);
    log(`${t} hb ${serverId} by svc${service} now=${now} -> ${record.epoch} until ${record.expiresAt}`);
    const held = [...leases.values()].flatMap((lease) => {
      const expiresAt = leaseExpiry(lease, record);
      return lease.serverId === serverId && lease.serverEpoch === record.epoch && expiresAt !== undefined
        ? [{ session: lease.sessionId, token: lease.fencingToken, expiresAt }]
        : [];
    });
    deliver(t, () => {
      const belief = beliefs.get(serverId)!;
      for (const session of [...belief.keys()])
        if (!held.some((h) => h.session === session)) belief.delete(session);
      for (const h of held) {
        if (h.token <= (releasedTokens.get(serverId)!.get(h.session) ?? 0)) continue;
        const known = belief.get(h.session);
        if (!known || known.token < h.token || (known.token === h.token && known.expiresAt < h.expiresAt))
          belief.set(h.session, { token: h.token, expiresAt: h.expiresAt });
      }
    });
  };

  const assign = (t: number, session: string, now: number, target: ServerRecord) => {
    const lease = leases.get(session);
    const holder = lease?.serverId ? servers.get(lease.serverId) : undefined;
    // The service's transaction: the target is live, the old holder's registration (when that is what
    // ended the lease) is still expired by the skew bound.
    if (!serverLive(target, now)) return;
    const endedWithRegistration =
      lease?.serverId &&
      !lease.released &&
      lease.frozenExpiresAt === undefined &&
      holder?.epoch === lease.serverEpoch;
    if (
      endedWithRegistration &&
      holder &&
      holder.serverId !== target.serverId &&
      holder.expiresAt >= now - config.maxSkewMs
    )
      return;
    const token = nextFencingToken(lease);
    if (lease && token !== lease.fencingToken + 1) fail(`token ${token} after ${lease.fencingToken}`);
    leases.set(session, {
      sessionId: session,
      serverId: target.serverId,
      serverEpoch: target.epoch,
      fencingToken: token,
      rvn: `r${rvns++}`,
    });
    result.assignments++;
    log(
      `${t} assign ${session} -> ${target.serverId} token ${token} (svc now ${now}, target until ${target.expiresAt}, old ${JSON.stringify(lease)} holder ${JSON.stringify(holder)})`,
    );
    const expiresAt = target.expiresAt;
    // The front end that asked tells the server (the answer's lease expiry is the registration's).
    deliver(t, () => {
      if (token <= (releasedTokens.get(target.serverId)!.get(session) ?? 0)) return;
      const belief = beliefs.get(target.serverId)!;
      const known = belief.get(session);
      if (!known || known.token < token) belief.set(session, { token, expiresAt });
    });
  };

  const lookup = (t: number, session: string, service: number) => {
    const now = t + serviceClocks[service]!;
    const lease = leases.get(session);
    const holder = lease?.serverId ? servers.get(lease.serverId) : undefined;
    if (leaseStatus(lease, holder, now, config).status === "held") return;
    const live = [...servers.values()].filter((server) => serverLive(server, now));
    if (live.length === 0) return;
    assign(t, session, now, live[Math.floor(random() * live.length)]!);
  };

  const move = (t: number, session: string, service: number) => {
    const now = t + serviceClocks[service]!;
    const lease = leases.get(session);
    if (!lease?.serverId) return;
    const holder = servers.get(lease.serverId);
    const status = leaseStatus(lease, holder, now, config);
    if (status.status === "free") return;
    if (lease.frozenExpiresAt === undefined)
      leases.set(session, { ...lease, frozenExpiresAt: status.expiresAt, rvn: `r${rvns++}` });
  };

  const release = (serverId: string) => {
    const belief = beliefs.get(serverId)!;
    const [session, held] = [...belief.entries()][0] ?? [];
    if (!session || !held) return;
    const lease = leases.get(session);
    // The holder forgets first, then tells the service.
    belief.delete(session);
    releasedTokens.get(serverId)!.set(session, held.token);
    if (lease && fenceAccepts(lease, serverId, held.token) && !lease.released)
      leases.set(session, { ...lease, released: true, rvn: `r${rvns++}` });
  };

  for (let step = 0; step < (options.steps ?? 2_000) && result.ok; step++) {
    const t = step * TICK_MS;
    for (const delivery of deliveries.filter((d) => d.at <= t)) delivery.apply();
    deliveries.splice(0, deliveries.length, ...deliveries.filter((d) => d.at > t));

    for (const serverId of SERVERS) {
      if (down.has(serverId)) {
        if (random() < 0.003) down.delete(serverId);
        continue;
      }
      if (random() < 0.002) {
        down.add(serverId); // crashed or paused: no heartbeats, but its clock and beliefs run on
        continue;
      }
      if (random() < 0.03) heartbeat(t, serverId, Math.floor(random() * 2));
      if (random() < 0.002) release(serverId);
      // A holder writes the session's state; a pause may hold the write back for a while.
      const belief = beliefs.get(serverId)!;
      for (const [session, held] of belief) {
        const local = t + serverClock.get(serverId)!;
        if (local < held.expiresAt - config.maxSkewMs && random() < 0.02)
          pendingWrites.push({
            at: t + (random() < 0.05 ? Math.floor(random() * 3 * config.leaseDurationMs) : 0),
            server: serverId,
            session,
            token: held.token,
          });
      }
    }
    for (const session of SESSIONS) {
      if (random() < 0.05) lookup(t, session, Math.floor(random() * 2));
      if (random() < 0.003) move(t, session, Math.floor(random() * 2));
    }
    for (const write of pendingWrites.filter((w) => w.at <= t)) {
      const lease = leases.get(write.session);
      if (fenceAccepts(lease, write.server, write.token)) {
        if (write.token < (stateToken.get(write.session) ?? 0))
          fail(`state went back to token ${write.token}`);
        stateToken.set(write.session, write.token);
        result.acceptedWrites++;
      } else result.rejectedWrites++;
    }
    pendingWrites.splice(0, pendingWrites.length, ...pendingWrites.filter((w) => w.at > t));

    // Mutual exclusion, by each server's own clock and rule.
    for (const session of SESSIONS) {
      const holders = SERVERS.filter((serverId) => {
        const held = beliefs.get(serverId)!.get(session);
        return held !== undefined && t + serverClock.get(serverId)! < held.expiresAt - config.maxSkewMs;
      });
      if (holders.length > 1) fail(`at ${t} ms ${holders.join(" and ")} both believe they hold ${session}`);
    }
  }
  return result;
}
