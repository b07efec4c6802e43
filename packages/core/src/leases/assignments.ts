/**
 * Assignments of sessions to servers: a lookup answers a live lease's holder, else assigns the session by
 * rendezvous hashing over the live servers. An assignment writes the lease only if it is unchanged since
 * it was read (its `rvn`), gives it the next fencing token, and checks in the same transaction that the
 * new server is live and, when the old holder's registration was the reason the lease ended, that it is
 * still expired, so a heartbeat racing with a takeover cannot both succeed. A move freezes the lease at
 * its server's current expiry (checked in the same transaction), then waits it out; a release is
 * conditioned on the holder and its fencing token.
 */
import { randomUUID } from "node:crypto";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite } from "../dynamodb/transactions.ts";
import { fail } from "../errors.ts";
import { rendezvous } from "../mesh/hashing.ts";
import type { Registrations } from "./registrations.ts";
import {
  fenceAccepts,
  freezeNeedsUnchangedRegistration,
  type LeaseRecord,
  leaseStatus,
  nextFencingToken,
  type ServerRecord,
  serverLive,
  takeoverNeedsExpiredRegistration,
} from "./rules.ts";
import type { LeaseStore, StoredLease } from "./store.ts";

export interface Assignment {
  sessionId: string;
  serverId: string;
  leaseExpiresAt: number;
  fencingToken: number;
}

export interface AssignmentOptions {
  sleep: (ms: number) => Promise<void>;
  pollMs?: number;
  observe?: (event: "first" | "expired" | "handover") => void;
}

export class Assignments {
  private readonly store: LeaseStore;
  private readonly registrations: Registrations;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly pollMs?: number;
  private readonly observe?: (event: "first" | "expired" | "handover") => void;

  constructor(store: LeaseStore, registrations: Registrations, options: AssignmentOptions) {
    this.store = store;
    this.registrations = registrations;
    this.sleep = options.sleep;
    this.pollMs = options.pollMs;
    this.observe = options.observe;
  }

  /** The session's holder while its lease lives; else assigns it by rendezvous hashing over live servers. */
  async lookup(sessionId: string): Promise<Assignment> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const { lease, holder } = await this.store.read(sessionId);
      const status = leaseStatus(lease, holder, this.store.now(), this.store.config);
      if (status.status === "held")
        return {
          sessionId,
          serverId: status.serverId,
          leaseExpiresAt: status.expiresAt,
          fencingToken: status.fencingToken,
        };
      const live = await this.registrations.liveServers();
      const chosen = rendezvous(
        sessionId,
        live.map((server) => server.serverId),
      );
      const target = live.find((server) => server.serverId === chosen);
      if (!target) throw fail("NoLiveServer", "no server is live: none has sent a heartbeat recently");
      const assigned = await this.assign(sessionId, lease, holder, target);
      if (assigned) return assigned;
      // Someone else changed the lease first (a concurrent first lookup): read who won.
    }
    throw fail("Contention", `could not assign ${sessionId}; retry`, { sessionId });
  }

  /**
   * Moves the session to `serverId`. While another server's lease lives, the lease is frozen (no longer
   * renewed) and the call waits until it expires or is released, then assigns it with a new token.
   * With `wait: false` it answers 409 LeaseHeld with `retryAfterMs` instead of waiting, and it waits at
   * most `maxWaitMs` before answering so (the lease stays frozen for the move; the caller comes back).
   */
  async move(
    sessionId: string,
    serverId: string,
    wait: boolean,
    maxWaitMs = Number.POSITIVE_INFINITY,
  ): Promise<Assignment & { waitedMs: number }> {
    const started = this.store.now();
    const waited = () => this.store.now() - started;
    const deadline = started + this.store.config.leaseDurationMs + this.store.config.maxSkewMs + 5_000;
    while (this.store.now() <= deadline) {
      const target = await this.store.server(serverId);
      if (!serverLive(target, this.store.now()))
        throw fail("ServerNotLive", `${serverId} is not live: it has not sent a heartbeat recently`, {
          serverId,
        });
      const { lease, holder } = await this.store.read(sessionId);
      const now = this.store.now();
      const status = leaseStatus(lease, holder, now, this.store.config);
      if (status.status === "free") {
        const assigned = await this.assign(sessionId, lease, holder, target);
        if (assigned) return { ...assigned, waitedMs: waited() };
        continue;
      }
      if (status.serverId === serverId)
        return {
          sessionId,
          serverId,
          leaseExpiresAt: status.expiresAt,
          fencingToken: status.fencingToken,
          waitedMs: waited(),
        };
      if (lease!.frozenExpiresAt === undefined || lease!.movingTo !== serverId) {
        if (!(await this.freeze(lease!, holder, status.expiresAt, serverId))) continue;
      }
      const retryAfterMs = Math.max(0, status.reassignableAt - now + 1);
      const pause = Math.min(this.pollMs ?? 100, retryAfterMs);
      if (!wait || waited() + pause > maxWaitMs)
        throw fail("LeaseHeld", `${status.serverId} holds ${sessionId} for up to ${retryAfterMs} ms`, {
          sessionId,
          serverId: status.serverId,
          retryAfterMs,
        });
      await this.sleep(pause);
    }
    throw fail("Contention", `could not move ${sessionId}; retry`, { sessionId });
  }

  /** The holder gives the lease up at once (graceful handoff). */
  async release(sessionId: string, serverId: string, fencingToken: number) {
    const released = await conditionalWrite<StoredLease>(
      this.store.documents,
      new UpdateCommand({
        TableName: this.store.leaseTable,
        Key: { sessionId },
        UpdateExpression: "SET released = :true, rvn = :rvn REMOVE movingTo",
        ConditionExpression:
          "serverId = :serverId AND fencingToken = :token AND attribute_not_exists(released)",
        ExpressionAttributeValues: {
          ":true": true,
          ":rvn": randomUUID(),
          ":serverId": serverId,
          ":token": fencingToken,
        },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    if (released.ok) return { sessionId, serverId, fencingToken, released: true as const };
    const current = released.old;
    if (!current) throw fail("SessionNotFound", `${sessionId} has never been assigned`, { sessionId });
    if (current.released && fenceAccepts(current, serverId, fencingToken))
      return { sessionId, serverId, fencingToken, released: true as const };
    throw fail("StaleFencingToken", `${serverId} with token ${fencingToken} does not hold ${sessionId}`, {
      sessionId,
      fencingToken: current.fencingToken,
    });
  }

  private async assign(
    sessionId: string,
    lease: LeaseRecord | undefined,
    holder: ServerRecord | undefined,
    target: ServerRecord,
  ): Promise<Assignment | undefined> {
    const now = this.store.now();
    const fencingToken = nextFencingToken(lease);
    const actions: Array<Record<string, unknown>> = [
      {
        Update: {
          TableName: this.store.leaseTable,
          Key: { sessionId },
          UpdateExpression:
            "SET serverId = :serverId, serverEpoch = :epoch, fencingToken = :token, rvn = :rvn, assignedAt = :now " +
            "REMOVE released, frozenExpiresAt, movingTo",
          ConditionExpression: lease ? "rvn = :readRvn" : "attribute_not_exists(sessionId)",
          ExpressionAttributeValues: {
            ":serverId": target.serverId,
            ":epoch": target.epoch,
            ":token": fencingToken,
            ":rvn": randomUUID(),
            ":now": now,
            ...(lease ? { ":readRvn": lease.rvn } : {}),
          },
        },
      },
      {
        ConditionCheck: {
          TableName: this.store.serverTable,
          Key: { serverId: target.serverId },
          ConditionExpression: "epoch = :epoch AND expiresAt >= :now",
          ExpressionAttributeValues: { ":epoch": target.epoch, ":now": now },
        },
      },
    ];
    if (takeoverNeedsExpiredRegistration(lease, holder, target) && holder) {
      actions.push({
        ConditionCheck: {
          TableName: this.store.serverTable,
          Key: { serverId: holder.serverId },
          ConditionExpression: "epoch <> :epoch OR expiresAt < :cutoff",
          ExpressionAttributeValues: { ":epoch": holder.epoch, ":cutoff": now - this.store.config.maxSkewMs },
        },
      });
    }
    if (!(await this.store.transact(actions))) return undefined;
    this.store.holderHints.set(sessionId, target.serverId);
    this.observe?.(
      !lease ? "first" : takeoverNeedsExpiredRegistration(lease, holder, target) ? "expired" : "handover",
    );
    return { sessionId, serverId: target.serverId, leaseExpiresAt: target.expiresAt, fencingToken };
  }

  private async freeze(
    lease: LeaseRecord,
    holder: ServerRecord | undefined,
    expiresAt: number,
    movingTo: string,
  ): Promise<boolean> {
    const actions: Array<Record<string, unknown>> = [
      {
        Update: {
          TableName: this.store.leaseTable,
          Key: { sessionId: lease.sessionId },
          UpdateExpression: "SET frozenExpiresAt = :expiresAt, movingTo = :movingTo, rvn = :rvn",
          ConditionExpression: "rvn = :readRvn",
          ExpressionAttributeValues: {
            ":expiresAt": expiresAt,
            ":movingTo": movingTo,
            ":rvn": randomUUID(),
            ":readRvn": lease.rvn,
          },
        },
      },
    ];
    if (freezeNeedsUnchangedRegistration(lease, holder) && holder)
      actions.push({
        ConditionCheck: {
          TableName: this.store.serverTable,
          Key: { serverId: holder.serverId },
          ConditionExpression: "epoch = :epoch AND expiresAt = :expiresAt",
          ExpressionAttributeValues: { ":epoch": holder.epoch, ":expiresAt": holder.expiresAt },
        },
      });
    return this.store.transact(actions);
  }
}
