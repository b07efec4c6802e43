/**
 * The lease rules of the sticky lookup service, as pure functions of the stored items and a clock.
 *
 * A session's lease pins it to a server. Servers do not renew each lease: a server's heartbeat renews its
 * registration (ServerTable), and a lease belongs to one registration (the server's `epoch`), so one
 * heartbeat renews every lease the server holds and a lease lives exactly as long as its server's
 * heartbeat — until it is released (DELETE, the holder's graceful handoff) or frozen by a move (PUT):
 * a frozen lease keeps the expiry it had and is no longer renewed, so the move only waits it out.
 *
 * Time and clocks. Expiry times are written by the lookup service's own clock. Nobody trusts clocks to
 * agree better than `maxSkewMs`:
 * - the service treats a lease as expired only when its clock is past `expiresAt + maxSkewMs`; between
 *   `expiresAt` and that point the lease is in its grace period and nobody else gets the session;
 * - a holder must stop acting for a session at `expiresAt - maxSkewMs` by its own clock (the client
 *   library caches a lookup only until then);
 * - a server's registration is extended while it has not passed `expiresAt + maxSkewMs` by the
 *   service's clock (nobody can have been given its sessions before that); a heartbeat after that starts
 *   a new epoch, and the old epoch's leases stay dead.
 * - a server that released a session ignores any later answer that still carries the released token
 *   (an answer to a heartbeat or lookup sent before the release can arrive after it).
 * So while clocks differ by less than `maxSkewMs`, a holder has stopped before another server starts
 * (test/simulation/lease-simulation.ts checks this under skew, crashes, pauses and late answers, and
 * that it fails when the clocks drift beyond the bound).
 * Fencing tokens cover the rest (a paused process, a clock that jumped): a token only ever grows, and
 * the session's state accepts writes only with the newest token.
 */
export interface LeaseConfig {
  leaseDurationMs: number;
  maxSkewMs: number;
}

export interface ServerRecord {
  serverId: string;
  /** One registration's identity; a server that expired and comes back gets a new one. */
  epoch: string;
  expiresAt: number;
}

export interface LeaseRecord {
  sessionId: string;
  serverId?: string;
  serverEpoch?: string;
  /** Grows by one per assignment and is never reused: the item is never deleted. */
  fencingToken: number;
  /** Changes on every assignment, release or freeze: the optimistic-concurrency check of a change. */
  rvn: string;
  released?: boolean;
  /** Set by a move: the lease keeps this expiry and is no longer renewed. */
  frozenExpiresAt?: number;
  movingTo?: string;
}

/** Whether a server may be given sessions: its heartbeat has not expired. */
export const serverLive = (server: ServerRecord | undefined, now: number): server is ServerRecord =>
  server !== undefined && server.expiresAt >= now;

/**
 * Whether a heartbeat may extend the registration it found (else it starts a new epoch, which ends the
 * old epoch's leases at once). Up to the expiry plus the skew bound: until then the holder may still be
 * acting on its leases by its own clock and nobody else can have been given them, so extending is safe
 * and ending them is not.
 */
export const canExtendRegistration = (
  server: ServerRecord | undefined,
  now: number,
  config: Pick<LeaseConfig, "maxSkewMs">,
): server is ServerRecord => server !== undefined && now <= server.expiresAt + config.maxSkewMs;

/**
 * When a lease expires: when it was released, at its frozen expiry after a move, else with its server's
 * registration (undefined when it has no holder or its server's registration is gone or newer).
 */
export function leaseExpiry(
  lease: LeaseRecord | undefined,
  server: ServerRecord | undefined,
): number | undefined {
  if (!lease?.serverId || lease.released) return undefined;
  if (lease.frozenExpiresAt !== undefined) return lease.frozenExpiresAt;
  if (!server || server.serverId !== lease.serverId || server.epoch !== lease.serverEpoch) return undefined;
  return server.expiresAt;
}

export type LeaseStatus =
  /** No holder: the session can be assigned now. */
  | { status: "free" }
  /** Held; not to be given to anyone else before `reassignableAt`. */
  | { status: "held"; serverId: string; expiresAt: number; reassignableAt: number; fencingToken: number };

export function leaseStatus(
  lease: LeaseRecord | undefined,
  server: ServerRecord | undefined,
  now: number,
  config: LeaseConfig,
): LeaseStatus {
  const expiresAt = leaseExpiry(lease, server);
  if (expiresAt === undefined || !lease?.serverId) return { status: "free" };
  const reassignableAt = expiresAt + config.maxSkewMs;
  if (now > reassignableAt) return { status: "free" };
  return {
    status: "held",
    serverId: lease.serverId,
    expiresAt,
    reassignableAt,
    fencingToken: lease.fencingToken,
  };
}

/** Until when a holder (or a client caching the lookup) may act on a lease, by its own clock. */
export const holderValidUntil = (expiresAt: number, config: Pick<LeaseConfig, "maxSkewMs">) =>
  expiresAt - config.maxSkewMs;

/** The token of the next assignment of a session: one more than any token it ever had. */
export const nextFencingToken = (lease: LeaseRecord | undefined) => (lease?.fencingToken ?? 0) + 1;

/** A state write is accepted only with the session's newest token, from the server it was issued to. */
export const fenceAccepts = (lease: LeaseRecord | undefined, serverId: string, fencingToken: number) =>
  lease !== undefined && lease.fencingToken === fencingToken && lease.serverId === serverId;

/**
 * A takeover of a lease that ended because its server's registration expired must check, in the same
 * transaction, that the registration is still expired (by the skew bound): else a heartbeat could renew
 * it at the same moment and both servers would hold the session.
 */
export const takeoverNeedsExpiredRegistration = (
  lease: LeaseRecord | undefined,
  holder: ServerRecord | undefined,
  target: ServerRecord,
) =>
  lease?.serverId !== undefined &&
  !lease.released &&
  lease.frozenExpiresAt === undefined &&
  holder !== undefined &&
  holder.epoch === lease.serverEpoch &&
  holder.serverId !== target.serverId;

/**
 * A lease is frozen at its registration's current expiry, so the freeze must check that the registration
 * is unchanged: a renewal in between would make the frozen expiry earlier than what the holder was told.
 */
export const freezeNeedsUnchangedRegistration = (lease: LeaseRecord, holder: ServerRecord | undefined) =>
  lease.frozenExpiresAt === undefined && holder !== undefined;
