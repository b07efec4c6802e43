/**
 * A client of the lookup service for the servers and front ends that route sessions. It caches a
 * session's assignment until its lease's expiry minus the clock-skew bound (after that, the holder may
 * already have lost it), and drops the entry and looks again when the service answers 409 (a moved
 * session) or rejects a state write's fencing token.
 *
 *   const lookup = new LookupClient({ baseUrl: process.env.LOOKUP_URL!, maxSkewMs: 1000 });
 *   const { serverId } = await lookup.lookup("game-42");          // cached while the lease lives
 *   await lookup.writeState("game-42", "server-a", { turn: 7 });   // fenced with the cached token
 */
import { holderValidUntil } from "../leases/rules.ts";
export interface CachedAssignment {
  sessionId: string;
  serverId: string;
  leaseExpiresAt: number;
  fencingToken: number;
}

export class LookupError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = code;
  }
}

export interface LookupClientOptions {
  baseUrl: string;
  /** The service's clock-skew bound: a cached lease is trusted until `leaseExpiresAt - maxSkewMs`. */
  maxSkewMs: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export class LookupClient {
  private readonly cache = new Map<string, CachedAssignment>();
  /** The highest token this client gave up per session: an answer carrying it or a lower one is stale. */
  private readonly released = new Map<string, number>();
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  /** Calls that went to the service, for whoever wants to see the cache work. */
  remoteLookups = 0;

  constructor(private readonly options: LookupClientOptions) {
    this.fetch = options.fetch ?? fetch;
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
      const assignment = (await this.call(
        "GET",
        `/sessions/${encodeURIComponent(sessionId)}`,
      )) as CachedAssignment;
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
    await this.call("DELETE", `/sessions/${encodeURIComponent(sessionId)}/lease`, {
      serverId,
      fencingToken: assignment.fencingToken,
    });
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
    await this.call("PUT", `/sessions/${encodeURIComponent(sessionId)}/state`, {
      serverId,
      fencingToken: assignment.fencingToken,
      state,
    });
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await this.fetch(`${this.options.baseUrl.replace(/\/$/, "")}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : undefined;
    if (response.ok) return parsed;
    const error = parsed?.error ?? {};
    if (response.status === 409) {
      // The session moved or its token is old: the cached assignment is wrong.
      const sessionId = decodeURIComponent(path.split("/")[2] ?? "");
      this.invalidate(sessionId);
    }
    throw new LookupError(response.status, error.code ?? "HttpError", error.message ?? text, error);
  }
}
