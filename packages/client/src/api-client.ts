/**
 * The typed client of the HTTP API: every route of the contract (packages/core/src/api/contract.ts) by a named
 * method, with the contract's input and answer types. Retries, Idempotency-Keys, unknown outcomes and
 * SigV4 signing are ContractClient's (./contract-client.ts); session lookups go through LookupClient's
 * lease-bounded cache.
 *
 *   import { ApiClient } from "@serverless-coordination/client";
 *   const client = new ApiClient({ endpoint: "http://127.0.0.1:3000", region: "us-east-1" });
 *   await client.kv.put("cart-7", { items: 2 }, "all");
 *   const { version } = await client.paxos.set("config", { mode: "on" });
 *   await client.paxos.set("config", { mode: "off" }, { ifVersion: version });   // compare-and-set
 */
import type { Api, RouteInput, RouteOutput } from "@serverless-coordination/core/api";
import { hash64 } from "@serverless-coordination/core/mesh";
import { type ApiClientOptions, type CallOptions, ContractClient } from "./contract-client.ts";
import { type LookupClient as Lookup, LookupClient } from "./lookup-client.ts";

export * from "./contract-client.ts";
export * from "./lookup-client.ts";
export { type CredentialSource, type Credentials, signedFetch } from "./signing.ts";

type Out<N extends keyof Api> = RouteOutput<Api[N]>;
type Query<N extends keyof Api> = NonNullable<RouteInput<Api[N]>["query"]>;

export interface HeartbeatLoop {
  /** Stops the loop (the registration then expires on its own). */
  stop(): void;
  /** The last heartbeat's answer. */
  readonly last: Out<"heartbeat"> | undefined;
}

export class ApiClient extends ContractClient<Api> {
  /** The lease-bounded cache of session assignments. */
  readonly lookups: Lookup;

  constructor(options: ApiClientOptions & { maxSkewMs?: number }) {
    super(options);
    this.lookups = new LookupClient({ client: this, maxSkewMs: options.maxSkewMs ?? 1000, now: options.now });
  }

  health = (options?: CallOptions) => this.call("health", {}, options);

  /** Paxos registers: write-once (propose) and rewritable (set, compare-and-set), linearizable reads. */
  readonly paxos = {
    propose: (key: string, value: unknown, options?: CallOptions) =>
      this.call("proposeOnce", { params: { key }, body: { value } }, options),
    set: (key: string, value: unknown, options?: CallOptions & { ifVersion?: number }) =>
      this.call("setRegister", { params: { key }, body: { value, ifVersion: options?.ifVersion } }, options),
    /** Sets only when the register is at `ifVersion` (0: never written); else ApiError VersionConflict. */
    cas: (key: string, ifVersion: number, value: unknown, options?: CallOptions) =>
      this.call("setRegister", { params: { key }, body: { value, ifVersion } }, options),
    read: (key: string, options?: CallOptions) => this.call("readRegister", { params: { key } }, options),
  };

  /** The replicated key-value store. */
  readonly kv = {
    put: (key: string, value: unknown, consistency: "all" | "primary" = "all", options?: CallOptions) =>
      this.call("putKv", { params: { key }, body: { value, consistency } }, options),
    /** From the primary; `{ replica }` reads one replica, `{ consistency: "all" }` every one with repair. */
    get: (key: string, query: Query<"getKv"> = {}, options?: CallOptions) =>
      this.call("getKv", { params: { key }, query }, options),
    changes: (key: string, options?: CallOptions) => this.call("kvChanges", { params: { key } }, options),
  };

  /** Servers of the lookup service: registration by heartbeat, and the live list. */
  readonly servers = {
    heartbeat: (serverId: string, options?: CallOptions) =>
      this.call("heartbeat", { params: { serverId } }, options),
    list: (options?: CallOptions) => this.call("listServers", {}, options),
    /**
     * Heartbeats now and every `intervalMs` (keep it well under the lease duration: a third of it is
     * usual) until stopped; a failed beat is reported to `onError` and the loop goes on.
     */
    keepAlive: async (
      serverId: string,
      intervalMs: number,
      onError: (error: unknown) => void = () => {},
    ): Promise<HeartbeatLoop> => {
      const loop = {
        stopped: false,
        last: undefined as Out<"heartbeat"> | undefined,
        timer: undefined as unknown,
      };
      const beat = async () => {
        try {
          loop.last = await this.servers.heartbeat(serverId);
        } catch (error) {
          onError(error);
        }
        if (!loop.stopped) loop.timer = setTimeout(beat, intervalMs);
      };
      loop.last = await this.servers.heartbeat(serverId);
      loop.timer = setTimeout(beat, intervalMs);
      return {
        stop: () => {
          loop.stopped = true;
          clearTimeout(loop.timer as NodeJS.Timeout);
        },
        get last() {
          return loop.last;
        },
      };
    },
  };

  /** Sessions: lookup (cached while the lease lives), move, release and fenced state. */
  readonly sessions = {
    lookup: (sessionId: string) => this.lookups.lookup(sessionId),
    /** Asks the service once (no cache): the holder, or a new assignment. */
    lookupUncached: (sessionId: string, options?: CallOptions) =>
      this.call("lookup", { params: { sessionId } }, options),
    /** Moves the session to `serverId`, waiting out the holder's lease (up to `maxWaitMs`). */
    move: (sessionId: string, serverId: string, maxWaitMs?: number) =>
      this.lookups.move(sessionId, serverId, maxWaitMs),
    /** One move request: with `wait: false` a held lease answers ApiError LeaseHeld with retryAfterMs. */
    moveOnce: (sessionId: string, serverId: string, wait = true, options?: CallOptions) =>
      this.call(
        "move",
        { params: { sessionId }, query: { wait: wait ? "true" : "false" }, body: { serverId } },
        options,
      ),
    /**
     * The client's way out when it cannot reach the session's server although the service still sees it
     * live (it heartbeats): move the session to another live server (the best by rendezvous hashing, or
     * `to`), which freezes the old lease and waits it out, then answer the new assignment.
     */
    failover: async (
      sessionId: string,
      unreachable: string,
      options: { to?: string; maxWaitMs?: number } = {},
    ) => {
      const to = options.to ?? (await this.pickOther(sessionId, unreachable));
      return this.lookups.move(sessionId, to, options.maxWaitMs);
    },
    release: (sessionId: string, serverId: string) => this.lookups.release(sessionId, serverId),
    /** Writes state as `serverId` with the cached fencing token (StaleFencingToken once it moved on). */
    writeState: (sessionId: string, serverId: string, state: unknown) =>
      this.lookups.writeState(sessionId, serverId, state),
    readState: (sessionId: string, options?: CallOptions) =>
      this.call("readState", { params: { sessionId } }, options),
  };

  /** Mesh subsetting: which backends a client connects to. */
  readonly mesh = {
    subset: (clientId: string, query: Query<"meshSubset"> = {}, options?: CallOptions) =>
      this.call("meshSubset", { params: { clientId }, query }, options),
  };

  /** The live server other than `unreachable` that rendezvous hashing ranks first for the session. */
  private async pickOther(sessionId: string, unreachable: string): Promise<string> {
    const { servers } = await this.servers.list();
    const others = servers.map((server) => server.serverId).filter((id) => id !== unreachable);
    if (others.length === 0)
      throw new Error(`no live server other than ${unreachable} to move ${sessionId} to`);
    return others.reduce((best, id) => (hash64(sessionId, id) > hash64(sessionId, best) ? id : best));
  }
}
