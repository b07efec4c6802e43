/**
 * A client of the lookup service for the servers and front ends that route sessions. It caches a
 * session's assignment until its lease's expiry minus the clock-skew bound (after that, the holder may
 * already have lost it), and drops the entry and looks again when the service answers 409 (a moved
 * session) or rejects a state write's fencing token.
 *
 *   const lookup = new LookupClient({ endpoint: process.env.LOOKUP_URL!, region: "eu-west-1", maxSkewMs: 1000 });
 *   const { serverId } = await lookup.lookup("game-42");          // cached while the lease lives
 *   await lookup.writeState("game-42", "server-a", { turn: 7 });   // fenced with the cached token
 */
import type { Api } from "@serverless-coordination/core/api";
import { holderValidUntil } from "@serverless-coordination/core/leases/rules";
import { type ApiClientOptions, ApiError, ContractClient } from "./contract-client.ts";

export interface CachedAssignment {
  sessionId: string;
  serverId: string;
  leaseExpiresAt: number;
  fencingToken: number;
}

/** An error answer of the lookup service (the API client's ApiError). */
export const LookupError = ApiError;
export type LookupError = ApiError;

export interface LookupClientOptions extends Partial<ApiClientOptions> {
  /** The service's clock-skew bound: a cached lease is trusted until `leaseExpiresAt - maxSkewMs`. */
  maxSkewMs: number;
  now?: () => number;
  /** The API client to call through (else one is made from endpoint, region, credentials, ...). */
  client?: ContractClient<Api>;
}

export class LookupClient {
  private readonly cache = new Map<string, CachedAssignment>();
  /** The highest token this client gave up per session: an answer carrying it or a lower one is stale. */
  private readonly released = new Map<string, number>();
  private readonly client: ContractClient<Api>;
  private readonly now: () => number;
  /** Calls that went to the service, for whoever wants to see the cache work. */
  remoteLookups = 0;

  private readonly options: LookupClientOptions;

  constructor(options: LookupClientOptions) {
    this.options = options;
    if (!options.client && !options.endpoint) throw new Error("LookupClient needs a client or an endpoint");
    this.client = options.client ?? new ContractClient({ ...options, endpoint: options.endpoint! });
    this.now = options.now ?? Date.now;
  }

  async lookup(sessionId: string): Promise<CachedAssignment> {
    const cached = this.cache.get(sessionId);
    if (cached && this.now() < holderValidUntil(cached.leaseExpiresAt, { maxSkewMs: this.options.maxSkewMs }))
      return cached;
    // An answer sent before our release can arrive after it and still name the released lease: it is
    // not ours any more, so it is neither used nor cached; ask again.
    for (let attempt = 0; attempt < 3; attempt++) {
      this.remoteLookups++;
      const assignment = await this.call(sessionId, () =>
        this.client.call("lookup", { params: { sessionId } }),
      );
      if (assignment.fencingToken <= (this.released.get(sessionId) ?? 0)) continue;
      this.cache.set(sessionId, assignment);
      return assignment;
    }
    throw new LookupError(409, "StaleAnswer", `the service keeps answering ${sessionId}'s released lease`);
  }

  /**
   * Gives up the session held by `serverId` (the holder's graceful handoff): the client forgets the
   * lease first, then tells the service, and ignores any later answer that still carries its token.
   */
  async release(sessionId: string, serverId: string): Promise<void> {
    const assignment = this.cache.get(sessionId) ?? (await this.lookup(sessionId));
    if (assignment.serverId !== serverId)
      throw new LookupError(
        409,
        "NotHolder",
        `${sessionId} is held by ${assignment.serverId}, not ${serverId}`,
      );
    this.cache.delete(sessionId);
    this.released.set(sessionId, Math.max(this.released.get(sessionId) ?? 0, assignment.fencingToken));
    await this.call(sessionId, () =>
      this.client.call("release", {
        params: { sessionId },
        body: { serverId, fencingToken: assignment.fencingToken },
      }),
    );
  }

  invalidate(sessionId: string): void {
    this.cache.delete(sessionId);
  }

  /**
   * Writes the session's state as `serverId` with the cached fencing token. When the service rejects the
   * token (the session moved on), the cache entry is dropped and the StaleFencingToken error rethrown:
   * the caller no longer owns the session and must not retry as if it did.
   */
  async writeState(sessionId: string, serverId: string, state: unknown): Promise<void> {
    const assignment = await this.lookup(sessionId);
    if (assignment.serverId !== serverId) {
      throw new LookupError(
        409,
        "NotHolder",
        `${sessionId} is held by ${assignment.serverId}, not ${serverId}`,
      );
    }
    await this.call(sessionId, () =>
      this.client.call("writeState", {
        params: { sessionId },
        body: { serverId, fencingToken: assignment.fencingToken, state },
      }),
    );
  }

  /**
   * Moves the session to `serverId` (waiting out the holder's lease: the service waits a bounded time,
   * then answers 409 LeaseHeld with retryAfterMs, and this waits that long and asks again, up to
   * `maxWaitMs`), then caches the new assignment.
   */
  async move(
    sessionId: string,
    serverId: string,
    maxWaitMs = 60_000,
  ): Promise<CachedAssignment & { waitedMs: number }> {
    this.cache.delete(sessionId);
    const started = this.now();
    for (;;) {
      try {
        // wait=false: the service freezes the lease and answers 409 LeaseHeld with retryAfterMs at once;
        // the waiting happens here, not in an Api environment.
        const moved = await this.client.call("move", {
          params: { sessionId },
          query: { wait: "false" },
          body: { serverId },
        });
        const { waitedMs: _, ...assignment } = moved;
        this.cache.set(sessionId, assignment);
        return { ...assignment, waitedMs: this.now() - started };
      } catch (error) {
        const retryAfterMs =
          error instanceof ApiError && error.code === "LeaseHeld" ? error.details.retryAfterMs : undefined;
        if (typeof retryAfterMs !== "number" || this.now() - started + retryAfterMs > maxWaitMs) throw error;
        await new Promise((resolve) => setTimeout(resolve, retryAfterMs));
      }
    }
  }

  /** Calls the service about `sessionId`; a 409 (moved, or an old token) drops the cached assignment. */
  private async call<T>(sessionId: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) this.invalidate(sessionId);
      throw error;
    }
  }
}
