/**
 * The sticky lookup service on LeaseTable and ServerTable; the rules are in rules.ts. Every change is
 * one conditional write or one transaction of them:
 * - a heartbeat extends the server's registration only if it is still live (else registers a new epoch);
 * - an assignment writes the lease only if it is unchanged since it was read (its `rvn`), gives it the
 *   next fencing token, and checks in the same transaction that the new server is live and, when the
 *   old holder's registration was the reason the lease ended, that it is still expired — so a heartbeat
 *   racing with a takeover cannot both succeed;
 * - a move freezes the lease at its server's current expiry (checked in the same transaction), then
 *   waits it out; a release or a state write is conditioned on the holder and its fencing token.
 */
import { randomUUID } from "node:crypto";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { conditionalWrite, transact } from "../dynamodb/transactions.ts";
import { fail } from "../errors.ts";
import { LruMap } from "../lru.ts";
import { rendezvous } from "../mesh/hashing.ts";
import {
  canExtendRegistration,
  fenceAccepts,
  freezeNeedsUnchangedRegistration,
  type LeaseConfig,
  type LeaseRecord,
  leaseExpiry,
  leaseStatus,
  nextFencingToken,
  type ServerRecord,
  serverLive,
  takeoverNeedsExpiredRegistration,
} from "./rules.ts";

export const LEASES_BY_SERVER_INDEX = "byServer";

/**
 * For how many lease durations after the registration expiry it saw an instance still guesses a server
 * may hold sessions (a server that stopped costs at most one wrong guess per session meanwhile).
 */
const GUESS_WINDOW_LEASES = 6;

export interface Assignment {
  sessionId: string;
  serverId: string;
  leaseExpiresAt: number;
  fencingToken: number;
}

export interface LeaseServiceOptions {
  leaseTable: string;
  serverTable: string;
  config: LeaseConfig;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** How often a waiting move looks for an early release. */
  pollMs?: number;
  /**
   * Told of each new assignment (a metric): a session's first, or a reassignment after its holder's
   * registration expired (`expired`), after a release or freeze for a move (`handover`).
   */
  observe?: (event: "first" | "expired" | "handover") => void;
  /**
   * Told how many DynamoDB requests each read of a lease with its holder's registration took (a metric):
   * 1 when this instance guessed the holder, 2 when it had to read the lease first or guessed wrong.
   */
  observeRead?: (requests: number) => void;
  /** How many sessions' last-seen holders an instance remembers to read them in one request (LRU). */
  maxHintedSessions?: number;
}

interface StoredLease extends LeaseRecord {
  state?: string;
  stateToken?: number;
}

export class LeaseService {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  private readonly documents: DynamoDBDocumentClient;
  private readonly options: LeaseServiceOptions;
  /**
   * What this instance has seen, to guess a session's holder before reading its lease (see `read`): the
   * holder each session last had, and the servers with the registration expiry last seen. Only guesses:
   * a wrong one costs a second read, never a wrong answer. A server counts as probably live for a while
   * after the expiry this instance saw (`GUESS_WINDOW_LEASES` leases): with many Api instances, each
   * answers only some of a server's heartbeats, and the others renew it meanwhile.
   */
  private readonly holderHints: LruMap<string, string>;
  private readonly seenServers = new Map<string, number>();

  constructor(documents: DynamoDBDocumentClient, options: LeaseServiceOptions) {
    this.documents = documents;
    this.options = options;
    this.holderHints = new LruMap(options.maxHintedSessions ?? 10_000);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  get config(): LeaseConfig {
    return this.options.config;
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
    this.seenServers.set(serverId, server.expiresAt);
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
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.options.leaseTable,
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
        const answer = await this.documents.send(
          new BatchGetCommand({
            RequestItems: { [this.options.leaseTable]: { Keys: keys, ConsistentRead: true } },
          }),
        );
        leases.push(...((answer.Responses?.[this.options.leaseTable] ?? []) as StoredLease[]));
        keys = answer.UnprocessedKeys?.[this.options.leaseTable]?.Keys ?? [];
      }
    }
    return leases;
  }

  private async renewRegistration(serverId: string): Promise<ServerRecord | undefined> {
    const now = this.now();
    const expiresAt = now + this.config.leaseDurationMs;
    const current = await this.server(serverId);
    const ttl = Math.floor(expiresAt / 1000) + 86_400;
    const cutoff = now - this.config.maxSkewMs;
    if (canExtendRegistration(current, now, this.config)) {
      // A registration's expiry never moves backwards: a service instance whose clock is behind
      // another's would otherwise cut short leases that a server was already told it holds.
      if (expiresAt <= current.expiresAt) return current;
      const extended = await conditionalWrite(
        this.documents,
        new UpdateCommand({
          TableName: this.options.serverTable,
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
      this.documents,
      new PutCommand({
        TableName: this.options.serverTable,
        Item: { serverId, epoch, expiresAt, ttl },
        ConditionExpression: "attribute_not_exists(serverId) OR expiresAt < :cutoff",
        ExpressionAttributeValues: { ":cutoff": cutoff },
      }),
    );
    return registered.ok ? { serverId, epoch, expiresAt } : undefined;
  }

  async liveServers(): Promise<ServerRecord[]> {
    const now = this.now();
    const servers: ServerRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new ScanCommand({
          TableName: this.options.serverTable,
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
    this.seenServers.clear();
    for (const server of live) this.seenServers.set(server.serverId, server.expiresAt);
    return live;
  }

  /** The session's holder while its lease lives; else assigns it by rendezvous hashing over live servers. */
  async lookup(sessionId: string): Promise<Assignment> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const { lease, holder } = await this.read(sessionId);
      const status = leaseStatus(lease, holder, this.now(), this.config);
      if (status.status === "held")
        return {
          sessionId,
          serverId: status.serverId,
          leaseExpiresAt: status.expiresAt,
          fencingToken: status.fencingToken,
        };
      const live = await this.liveServers();
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
    const started = this.now();
    const waited = () => this.now() - started;
    const deadline = started + this.config.leaseDurationMs + this.config.maxSkewMs + 5_000;
    while (this.now() <= deadline) {
      const target = await this.server(serverId);
      if (!serverLive(target, this.now()))
        throw fail("ServerNotLive", `${serverId} is not live: it has not sent a heartbeat recently`, {
          serverId,
        });
      const { lease, holder } = await this.read(sessionId);
      const now = this.now();
      const status = leaseStatus(lease, holder, now, this.config);
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
      const pause = Math.min(this.options.pollMs ?? 100, retryAfterMs);
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
      this.documents,
      new UpdateCommand({
        TableName: this.options.leaseTable,
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

  /**
   * Stores the session's state, only from the server that holds a live lease under `fencingToken`: not
   * released, not reassigned, and by this service's clock not past its expiry plus the skew bound (else
   * 409 StaleFencingToken, state unchanged). The write is conditioned on the lease item being unchanged
   * since it was read and, for a lease that lives with its registration, on that registration.
   */
  async writeState(sessionId: string, serverId: string, fencingToken: number, state: unknown) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { lease, holder } = await this.read(sessionId);
      if (!lease) throw fail("SessionNotFound", `${sessionId} has never been assigned`, { sessionId });
      const now = this.now();
      const status = leaseStatus(lease, holder, now, this.config);
      const live = status.status === "held" && status.fencingToken === fencingToken;
      if (!fenceAccepts(lease, serverId, fencingToken) || !live) {
        const why = !fenceAccepts(lease, serverId, fencingToken)
          ? `is not ${sessionId}'s newest (${lease.fencingToken}, ${lease.serverId})`
          : lease.released
            ? "was released"
            : "has expired";
        throw fail("StaleFencingToken", `token ${fencingToken} of ${serverId} ${why}`, {
          sessionId,
          fencingToken: lease.fencingToken,
        });
      }
      const actions: Array<Record<string, unknown>> = [
        {
          Update: {
            TableName: this.options.leaseTable,
            Key: { sessionId },
            UpdateExpression: "SET #state = :state, stateToken = :token",
            ConditionExpression: "rvn = :rvn",
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: {
              ":state": JSON.stringify(state),
              ":token": fencingToken,
              ":rvn": lease.rvn,
            },
          },
        },
      ];
      if (lease.frozenExpiresAt === undefined)
        actions.push({
          ConditionCheck: {
            TableName: this.options.serverTable,
            Key: { serverId },
            ConditionExpression: "epoch = :epoch AND expiresAt >= :cutoff",
            ExpressionAttributeValues: {
              ":epoch": lease.serverEpoch,
              ":cutoff": now - this.config.maxSkewMs,
            },
          },
        });
      if (await this.transact(actions)) return { sessionId, serverId, fencingToken, state };
      // The lease or the registration changed since it was read: decide again on what they are now.
    }
    throw fail("Contention", `could not store the state of ${sessionId}; retry`, { sessionId });
  }

  async readState(sessionId: string) {
    const { lease } = await this.read(sessionId, false);
    if (lease?.state === undefined || lease.stateToken === undefined)
      throw fail("StateNotFound", `${sessionId} has no state`, { sessionId });
    return { sessionId, state: JSON.parse(lease.state), fencingToken: lease.stateToken };
  }

  private async server(serverId: string): Promise<ServerRecord | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.options.serverTable, Key: { serverId }, ConsistentRead: true }),
    );
    return Item as ServerRecord | undefined;
  }

  private async lease(sessionId: string): Promise<StoredLease | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.options.leaseTable, Key: { sessionId }, ConsistentRead: true }),
    );
    return Item as StoredLease | undefined;
  }

  /**
   * The lease and its holder's registration as they were at one moment. Read one after the other, a
   * lease that was frozen in between would be seen unfrozen next to a registration renewed after the
   * freeze, and answered with an expiry later than its frozen one. So both are read in one transactional
   * read (TransactGetItems: serializable with every write to them). Which registration to read comes
   * from a guess: the holder this instance last saw for the session, else the rendezvous choice among the
   * servers it saw live lately (where an assignment puts a session). A right guess is one round trip; a
   * wrong one shows the lease's actual holder, whose pair is read next. With no guess, the lease is read
   * first to learn its holder: two round trips.
   */
  private async read(sessionId: string, withHolder = true) {
    if (!withHolder) return { lease: await this.lease(sessionId), holder: undefined };
    let requests = 0;
    const answer = <T>(read: T): T => {
      this.options.observeRead?.(requests);
      return read;
    };
    let serverId = this.guessHolder(sessionId);
    if (!serverId) {
      const lease = await this.lease(sessionId);
      requests++;
      if (!lease?.serverId) return answer({ lease, holder: undefined });
      serverId = lease.serverId;
    }
    for (let attempt = 0; ; attempt++) {
      // A write to one of them under way each time, or a session moving on every read: answer, and retry.
      if (attempt >= 10) throw fail("Contention", `could not read ${sessionId}; retry`, { sessionId });
      const pair = await this.leaseAndServer(sessionId, serverId);
      requests++;
      // A write to one of them was under way: read again (DynamoDB answered nothing).
      if (pair === "conflict") continue;
      if (!pair.lease?.serverId) return answer({ lease: pair.lease, holder: undefined });
      this.holderHints.set(sessionId, pair.lease.serverId);
      if (pair.lease.serverId === serverId) return answer(pair);
      serverId = pair.lease.serverId;
    }
  }

  /** The server this instance expects to hold the session, if it has seen enough to guess. */
  private guessHolder(sessionId: string): string | undefined {
    const hinted = this.holderHints.get(sessionId);
    if (hinted) return hinted;
    const since = this.now() - GUESS_WINDOW_LEASES * this.config.leaseDurationMs;
    const recent = [...this.seenServers].filter(([, expiresAt]) => expiresAt >= since).map(([id]) => id);
    return rendezvous(sessionId, recent);
  }

  private async leaseAndServer(
    sessionId: string,
    serverId: string,
  ): Promise<{ lease?: StoredLease; holder?: ServerRecord } | "conflict"> {
    try {
      const { Responses = [] } = await this.documents.send(
        new TransactGetCommand({
          TransactItems: [
            { Get: { TableName: this.options.leaseTable, Key: { sessionId } } },
            { Get: { TableName: this.options.serverTable, Key: { serverId } } },
          ],
        }),
      );
      return {
        lease: Responses[0]?.Item as StoredLease | undefined,
        holder: Responses[1]?.Item as ServerRecord | undefined,
      };
    } catch (error) {
      if (error instanceof TransactionCanceledException) return "conflict";
      throw error;
    }
  }

  private async assign(
    sessionId: string,
    lease: LeaseRecord | undefined,
    holder: ServerRecord | undefined,
    target: ServerRecord,
  ): Promise<Assignment | undefined> {
    const now = this.now();
    const fencingToken = nextFencingToken(lease);
    const actions: Array<Record<string, unknown>> = [
      {
        Update: {
          TableName: this.options.leaseTable,
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
          TableName: this.options.serverTable,
          Key: { serverId: target.serverId },
          ConditionExpression: "epoch = :epoch AND expiresAt >= :now",
          ExpressionAttributeValues: { ":epoch": target.epoch, ":now": now },
        },
      },
    ];
    if (takeoverNeedsExpiredRegistration(lease, holder, target) && holder) {
      actions.push({
        ConditionCheck: {
          TableName: this.options.serverTable,
          Key: { serverId: holder.serverId },
          ConditionExpression: "epoch <> :epoch OR expiresAt < :cutoff",
          ExpressionAttributeValues: { ":epoch": holder.epoch, ":cutoff": now - this.config.maxSkewMs },
        },
      });
    }
    if (!(await this.transact(actions))) return undefined;
    this.holderHints.set(sessionId, target.serverId);
    this.options.observe?.(
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
          TableName: this.options.leaseTable,
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
          TableName: this.options.serverTable,
          Key: { serverId: holder.serverId },
          ConditionExpression: "epoch = :epoch AND expiresAt = :expiresAt",
          ExpressionAttributeValues: { ":epoch": holder.epoch, ":expiresAt": holder.expiresAt },
        },
      });
    return this.transact(actions);
  }

  /**
   * Commits the actions all or nothing; false when the transaction was cancelled (a condition failed, or
   * a conflicting transaction): every caller then reads again and decides anew.
   */
  private async transact(actions: Array<Record<string, unknown>>): Promise<boolean> {
    return (await transact(this.documents, actions)).ok;
  }
}
