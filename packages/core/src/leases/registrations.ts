/**
 * Servers' registrations: a heartbeat extends a server's registration only while it is live (else
 * registers a new epoch), which renews every lease of that registration, and answers the leases the
 * server holds; the live servers are the ones whose registration has not expired.
 */
import { randomUUID } from "node:crypto";
import { BatchGetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite } from "../dynamodb/transactions.ts";
import { fail } from "../errors.ts";
import { canExtendRegistration, leaseExpiry, type ServerRecord, serverLive } from "./rules.ts";
import type { LeaseStore, StoredLease } from "./store.ts";

export const LEASES_BY_SERVER_INDEX = "byServer";

export class Registrations {
  private readonly store: LeaseStore;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(store: LeaseStore, sleep: (ms: number) => Promise<void>) {
    this.store = store;
    this.sleep = sleep;
  }

  /**
   * Registers or renews a server, which renews every lease of its registration, and answers the leases
   * it holds with how long it may hold each. The index only says which sessions to look at (it lags its
   * table): each lease is then read strongly consistently, after the renewal, so a lease frozen by a
   * move is answered with its frozen expiry and one reassigned since is left out.
   */
  async heartbeat(serverId: string) {
    let server: ServerRecord | undefined;
    for (let attempt = 0; attempt < 5 && !server; attempt++) server = await this.renewRegistration(serverId);
    if (!server) throw fail("Contention", `could not register ${serverId}; retry`, { serverId });
    this.store.seenServers.set(serverId, server.expiresAt);
    const leases = (await this.readLeases(await this.sessionsListedFor(serverId))).flatMap((lease) => {
      const expiresAt = leaseExpiry(lease, server);
      return expiresAt === undefined || lease.serverId !== serverId || lease.serverEpoch !== server.epoch
        ? []
        : [{ sessionId: lease.sessionId, fencingToken: lease.fencingToken, leaseExpiresAt: expiresAt }];
    });
    return { serverId, expiresAt: server.expiresAt, epoch: server.epoch, leases };
  }

  /** The sessions the byServer index lists for a server, every page of them (keys only). */
  private async sessionsListedFor(serverId: string): Promise<string[]> {
    const sessions: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.store.documents.send(
        new QueryCommand({
          TableName: this.store.leaseTable,
          IndexName: LEASES_BY_SERVER_INDEX,
          KeyConditionExpression: "serverId = :serverId",
          ExpressionAttributeValues: { ":serverId": serverId },
          ExclusiveStartKey: start,
        }),
      );
      sessions.push(...(page.Items ?? []).map((item) => String(item.sessionId)));
      start = page.LastEvaluatedKey;
    } while (start);
    return sessions;
  }

  /** Strongly consistent reads of lease items, 100 a request, until none is left unprocessed. */
  private async readLeases(sessionIds: string[]): Promise<StoredLease[]> {
    const leases: StoredLease[] = [];
    for (let offset = 0; offset < sessionIds.length; offset += 100) {
      let keys: Array<Record<string, unknown>> = sessionIds
        .slice(offset, offset + 100)
        .map((sessionId) => ({ sessionId }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > 0) await this.sleep(Math.min(1000, 10 * 2 ** attempt));
        const answer = await this.store.documents.send(
          new BatchGetCommand({
            RequestItems: { [this.store.leaseTable]: { Keys: keys, ConsistentRead: true } },
          }),
        );
        leases.push(...((answer.Responses?.[this.store.leaseTable] ?? []) as StoredLease[]));
        keys = answer.UnprocessedKeys?.[this.store.leaseTable]?.Keys ?? [];
      }
    }
    return leases;
  }

  private async renewRegistration(serverId: string): Promise<ServerRecord | undefined> {
    const now = this.store.now();
    const expiresAt = now + this.store.config.leaseDurationMs;
    const current = await this.store.server(serverId);
    const ttl = Math.floor(expiresAt / 1000) + 86_400;
    const cutoff = now - this.store.config.maxSkewMs;
    if (canExtendRegistration(current, now, this.store.config)) {
      // A registration's expiry never moves backwards: a service instance whose clock is behind
      // another's would otherwise cut short leases that a server was already told it holds.
      if (expiresAt <= current.expiresAt) return current;
      const extended = await conditionalWrite(
        this.store.documents,
        new UpdateCommand({
          TableName: this.store.serverTable,
          Key: { serverId },
          UpdateExpression: "SET expiresAt = :expiresAt, #ttl = :ttl",
          ConditionExpression: "epoch = :epoch AND expiresAt >= :cutoff AND expiresAt < :expiresAt",
          ExpressionAttributeNames: { "#ttl": "ttl" },
          ExpressionAttributeValues: {
            ":expiresAt": expiresAt,
            ":ttl": ttl,
            ":epoch": current.epoch,
            ":cutoff": cutoff,
          },
        }),
      );
      return extended.ok ? { serverId, epoch: current.epoch, expiresAt } : undefined;
    }
    const epoch = randomUUID();
    const registered = await conditionalWrite(
      this.store.documents,
      new PutCommand({
        TableName: this.store.serverTable,
        Item: { serverId, epoch, expiresAt, ttl },
        ConditionExpression: "attribute_not_exists(serverId) OR expiresAt < :cutoff",
        ExpressionAttributeValues: { ":cutoff": cutoff },
      }),
    );
    return registered.ok ? { serverId, epoch, expiresAt } : undefined;
  }

  async liveServers(): Promise<ServerRecord[]> {
    const now = this.store.now();
    const servers: ServerRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.store.documents.send(
        new ScanCommand({
          TableName: this.store.serverTable,
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      servers.push(...((page.Items ?? []) as ServerRecord[]));
      start = page.LastEvaluatedKey;
    } while (start);
    const live = servers
      .filter((server) => serverLive(server, now))
      .map(({ serverId, epoch, expiresAt }) => ({ serverId, epoch, expiresAt }))
      .sort((a, b) => a.serverId.localeCompare(b.serverId));
    this.store.seenServers.clear();
    for (const server of live) this.store.seenServers.set(server.serverId, server.expiresAt);
    return live;
  }
}
