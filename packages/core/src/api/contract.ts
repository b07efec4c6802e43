/**
 * The HTTP API, defined once. Each route has its method, path, the zod schemas of its query, body and
 * answer, and the error codes it may answer. Everything else is derived from this file:
 *
 * - the Api function's router (core/http's `contractRouter`, in the cdk package's Api handler): it dispatches exactly these
 *   routes and validates path, query and body with these schemas before the handler runs;
 * - the stack's API Gateway routes (infra/stack.ts `stackRoutes`);
 * - docs/openapi.json (`npm run openapi`, packages/core/src/api/openapi.ts; a test fails when the file is stale);
 * - the typed client (packages/client/src/api-client.ts), whose calls take and return these types.
 *
 * Path parameters are API keys (`PATH_PARAM_SCHEMAS`); a bad one answers 400 with the code PATH_PARAM_CODES
 * names.
 */
import { z } from "zod";
import type { ErrorCode } from "../errors.ts";
import { clientIdSchema, KEY_PATTERN, keySchema, queryCount, valueSchema } from "../validation.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** The HTTP status of each error code: the only place a code meets a status. */
export const ERROR_STATUS: Record<ErrorCode, 400 | 404 | 409 | 422 | 500 | 503> = {
  InvalidKey: 400,
  InvalidServerId: 400,
  InvalidSessionId: 400,
  InvalidClientId: 400,
  InvalidQuery: 400,
  InvalidBody: 400,
  InvalidJson: 400,
  InvalidEncoding: 400,
  InvalidNumber: 400,
  InvalidReplica: 400,
  InvalidIdempotencyKey: 400,
  RouteNotFound: 404,
  KeyNotFound: 404,
  SessionNotFound: 404,
  StateNotFound: 404,
  VersionConflict: 409,
  KeyKindConflict: 409,
  LeaseHeld: 409,
  StaleFencingToken: 409,
  ServerNotLive: 409,
  RequestInProgress: 409,
  IdempotencyKeyReused: 422,
  InternalError: 500,
  Contention: 503,
  NoQuorum: 503,
  OutcomeUnknown: 503,
  ReplicaUnavailable: 503,
  NoLiveServer: 503,
};

/**
 * The 5xx answers that are final for an Idempotency-Key: kept and replayed to every retry with the key,
 * never run again, and never retried by the client. Running a write again after OutcomeUnknown could
 * apply it twice (its attempt may be adopted after the register's history forgot it). Every other 5xx
 * means the write did not take effect, or that running it again finds it: the key is given up.
 */
export const FINAL_SERVER_ERRORS: ReadonlySet<string> = new Set<ErrorCode>(["OutcomeUnknown"]);

/** The 400 code of a bad path parameter, by the parameter's name. */
export const PATH_PARAM_CODES = {
  key: "InvalidKey",
  serverId: "InvalidServerId",
  sessionId: "InvalidSessionId",
  clientId: "InvalidClientId",
} as const satisfies Record<string, ErrorCode>;

type PathParamName = keyof typeof PATH_PARAM_CODES;

/** What each path parameter may be: a key, and a client id is an index or a name (`clientIdSchema`). */
export const PATH_PARAM_SCHEMAS: Record<PathParamName, z.ZodType<string>> = {
  key: keySchema,
  serverId: keySchema,
  sessionId: keySchema,
  clientId: clientIdSchema,
};

/** The names of a path's `{parameters}`. */
export type PathParams<P extends string> = P extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParams<Rest>
  : never;

export interface RouteDefinition<
  M extends Method = Method,
  P extends string = string,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R extends z.ZodType = z.ZodType,
> {
  method: M;
  path: P;
  summary: string;
  /** What the 200 answer is. */
  answers: string;
  /** Served without authorization even where the stack requires IAM (a health check). */
  public?: boolean;
  query?: Q;
  body?: B;
  response: R;
  /** The error codes the route's own logic may answer (bad input codes are derived from the schemas). */
  errors: readonly ErrorCode[];
}

const route = <
  const M extends Method,
  const P extends string,
  R extends z.ZodType,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(
  definition: RouteDefinition<M, P, Q, B, R>,
) => definition;

// Schemas shared by several routes; an `id` makes them named components in docs/openapi.json.
const Key = keySchema.meta({ id: "Key", description: `A key or id: ${KEY_PATTERN.source}` });
const Value = valueSchema.meta({
  id: "Value",
  description: "Any JSON value of at most 64 KiB serialized that reads back exactly.",
});
const AnyValue = z.unknown().meta({ id: "StoredValue", description: "The JSON value as written." });
const FencingToken = z.number().int().positive().meta({ id: "FencingToken" });
const EpochMs = z
  .number()
  .int()
  .meta({ id: "EpochMs", description: "Epoch milliseconds by the service's clock." });
const Register = z.object({ key: z.string(), value: AnyValue, version: z.number().int().min(1) }).meta({
  id: "Register",
  description: "A Paxos register's state: its value and version (1 for the first write).",
});
const KvVersion = z
  .string()
  .regex(/^\d{15}\.\d{6}$/)
  .meta({ id: "KvVersion", description: "Hybrid logical clock: milliseconds and a counter." });
const Consistency = z.enum(["all", "primary"]).meta({ id: "Consistency" });
const Assignment = z
  .object({
    sessionId: z.string(),
    serverId: z.string(),
    leaseExpiresAt: EpochMs,
    fencingToken: FencingToken,
  })
  .meta({ id: "Assignment", description: "Which server holds a session, until when, with which token." });
const LiveServer = z
  .object({ serverId: z.string(), epoch: z.string(), expiresAt: EpochMs, slot: z.number().int().min(0) })
  .meta({ id: "LiveServer" });
const ErrorBody = z
  .object({
    error: z.looseObject({ code: z.string(), message: z.string() }),
  })
  .meta({ id: "Error", description: "Every error: a code, a message and the code's details." });

export const errorSchema = ErrorBody;

export const api = {
  health: route({
    method: "GET",
    path: "/health",
    summary: "Liveness",
    answers: "The Api function answers.",
    public: true,
    response: z.object({ status: z.literal("ok") }),
    errors: [],
  }),

  proposeOnce: route({
    method: "POST",
    path: "/paxos/{key}",
    summary: "Write-once propose: the first value chosen by a majority stays chosen",
    answers: "The chosen value; `won` says whether this call's value was chosen.",
    body: z.object({ value: Value }),
    response: z.object({ ...Register.shape, won: z.boolean() }),
    errors: ["KeyKindConflict", "Contention", "NoQuorum", "OutcomeUnknown"],
  }),
  setRegister: route({
    method: "PUT",
    path: "/paxos/{key}",
    summary: "Set the register; with ifVersion, compare-and-set on its version (0: only if never written)",
    answers: "The register's new state.",
    body: z.object({ value: Value, ifVersion: z.number().int().min(0).optional() }),
    response: Register,
    errors: ["VersionConflict", "KeyKindConflict", "Contention", "NoQuorum", "OutcomeUnknown"],
  }),
  readRegister: route({
    method: "GET",
    path: "/paxos/{key}",
    summary: "Linearizable read of a register",
    answers: "The register's current state.",
    response: Register,
    errors: ["KeyNotFound", "Contention", "NoQuorum"],
  }),

  putKv: route({
    method: "PUT",
    path: "/kv/{key}",
    summary: "Replicated write: all (every replica) or primary (primary + outbox; replicas catch up)",
    answers: "Committed: the version and the replicas that acknowledged it.",
    body: z.object({ value: Value, consistency: Consistency }),
    response: z.object({
      key: z.string(),
      version: KvVersion,
      consistency: Consistency,
      acks: z.array(z.string()),
    }),
    errors: ["ReplicaUnavailable"],
  }),
  getKv: route({
    method: "GET",
    path: "/kv/{key}",
    summary:
      "Read from the primary, from one replica (?replica=), or from every replica with read repair (?consistency=all)",
    answers: "The value and its version, with the replica read or the replicas repaired.",
    query: z.object({ consistency: Consistency.optional(), replica: z.string().min(1).optional() }).strict(),
    response: z.object({
      key: z.string(),
      value: AnyValue,
      version: KvVersion,
      replica: z.string().optional(),
      repaired: z.array(z.string()).optional(),
    }),
    errors: ["InvalidReplica", "KeyNotFound", "ReplicaUnavailable"],
  }),
  kvChanges: route({
    method: "GET",
    path: "/kv/{key}/changes",
    summary:
      "The key's change counter, counted exactly once per change by the Replicator (it lags the queue)",
    answers: "The count of changes applied so far.",
    response: z.object({ key: z.string(), changes: z.number().int().min(0) }),
    errors: [],
  }),

  heartbeat: route({
    method: "POST",
    path: "/servers/{serverId}/heartbeat",
    summary: "Register or renew a server; renews every lease of its registration",
    answers: "The registration and the leases it holds.",
    response: z.object({
      serverId: z.string(),
      expiresAt: EpochMs,
      epoch: z.string(),
      leases: z.array(
        z.object({ sessionId: z.string(), fencingToken: FencingToken, leaseExpiresAt: EpochMs }),
      ),
    }),
    errors: ["Contention"],
  }),
  listServers: route({
    method: "GET",
    path: "/servers",
    summary: "The live servers, each with its mesh slot (the slots are exactly 0..n-1)",
    answers: "The live servers.",
    response: z.object({ servers: z.array(LiveServer) }),
    errors: ["Contention"],
  }),
  lookup: route({
    method: "GET",
    path: "/sessions/{sessionId}",
    summary:
      "The holder of the session's live lease, or a new assignment by rendezvous hashing over live servers",
    answers: "The assignment.",
    response: Assignment,
    errors: ["NoLiveServer", "Contention"],
  }),
  move: route({
    method: "PUT",
    path: "/sessions/{sessionId}",
    summary:
      "Move the session: freezes the holder's lease and waits it out (up to a bound, then 409 LeaseHeld with retryAfterMs; at once with ?wait=false)",
    answers: "The new assignment and how long the call waited.",
    query: z.object({ wait: z.enum(["true", "false"]).optional() }).strict(),
    body: z.object({ serverId: Key }),
    response: z.object({ ...Assignment.shape, waitedMs: z.number().int().min(0) }),
    errors: ["ServerNotLive", "LeaseHeld", "Contention"],
  }),
  release: route({
    method: "DELETE",
    path: "/sessions/{sessionId}/lease",
    summary: "The holder releases its lease at once",
    answers: "Released.",
    body: z.object({ serverId: Key, fencingToken: FencingToken }),
    response: z.object({
      sessionId: z.string(),
      serverId: z.string(),
      fencingToken: FencingToken,
      released: z.literal(true),
    }),
    errors: ["SessionNotFound", "StaleFencingToken"],
  }),
  writeState: route({
    method: "PUT",
    path: "/sessions/{sessionId}/state",
    summary: "Store the session's state, only with its newest fencing token",
    answers: "Stored.",
    body: z.object({ serverId: Key, fencingToken: FencingToken, state: Value }),
    response: z.object({
      sessionId: z.string(),
      serverId: z.string(),
      fencingToken: FencingToken,
      state: AnyValue,
    }),
    errors: ["SessionNotFound", "StaleFencingToken", "Contention"],
  }),
  readState: route({
    method: "GET",
    path: "/sessions/{sessionId}/state",
    summary: "The session's state and the token it was written with",
    answers: "The state.",
    response: z.object({ sessionId: z.string(), state: AnyValue, fencingToken: FencingToken }),
    errors: ["StateNotFound"],
  }),

  meshSubset: route({
    method: "GET",
    path: "/mesh/subsets/{clientId}",
    summary:
      "The client's subset of the live servers: slot subsetting (balanced, low churn) unless another algorithm is asked for",
    answers: "The subset; `clients` is given for slot subsetting only.",
    query: z
      .object({
        size: queryCount(1, 1000).optional(),
        clients: queryCount(1, 10_000).optional(),
        algorithm: z.enum(["slot", "deterministic", "random"]).optional(),
      })
      .strict(),
    response: z.object({
      clientId: z.string(),
      algorithm: z.enum(["slot", "deterministic", "random"]),
      size: z.number().int(),
      clients: z.number().int().optional(),
      backends: z.array(z.string()),
    }),
    errors: ["Contention"],
  }),
} as const;

export type Api = typeof api;
export type RouteName = keyof Api;
export type AnyRoute = RouteDefinition;

/** "GET /kv/{key}": how API Gateway names a route (its route key). */
export const routeKey = (route: { method: string; path: string }) => `${route.method} ${route.path}`;

/** The path parameters of a route, in path order. */
export const pathParamsOf = (path: string): PathParamName[] =>
  [...path.matchAll(/\{([^}]+)\}/g)].map((match) => {
    const name = match[1]!;
    if (!(name in PATH_PARAM_CODES)) throw new Error(`${path}: no 400 code for path parameter ${name}`);
    return name as PathParamName;
  });

/** A route's query or body schema, or undefined when it takes none. */
type SchemaOf<S> = [NonNullable<S>] extends [never] ? undefined : NonNullable<S>;

/** What a caller sends: path parameters by name, and the query and body where the route takes them. */
export type RouteInput<R extends AnyRoute> = ([PathParams<R["path"]>] extends [never]
  ? { params?: undefined }
  : { params: Record<PathParams<R["path"]>, string> }) &
  (SchemaOf<R["query"]> extends z.ZodType
    ? { query?: z.input<SchemaOf<R["query"]>> }
    : { query?: undefined }) &
  (SchemaOf<R["body"]> extends z.ZodType ? { body: z.input<SchemaOf<R["body"]>> } : { body?: undefined });

/** What a handler receives: the same, validated and parsed. */
export type ParsedInput<R extends AnyRoute> = {
  params: Record<PathParams<R["path"]>, string>;
  query: SchemaOf<R["query"]> extends z.ZodType ? z.output<SchemaOf<R["query"]>> : Record<string, never>;
  body: SchemaOf<R["body"]> extends z.ZodType ? z.output<SchemaOf<R["body"]>> : undefined;
};

export type RouteOutput<R extends AnyRoute> = z.output<R["response"]>;

/** Write routes (POST, PUT, DELETE) honour an Idempotency-Key header. */
export const isWrite = (route: Pick<AnyRoute, "method">) => route.method !== "GET";

/** The contract without some routes (what the contract test derives everything from, to show removal). */
export function without<C extends Record<string, AnyRoute>, N extends keyof C>(contract: C, ...names: N[]) {
  return Object.fromEntries(Object.entries(contract).filter(([name]) => !names.includes(name as N))) as Omit<
    C,
    N
  >;
}

/** The schema of every path parameter (the OpenAPI description's Key component). */
export { Key as keyParamSchema };

/** Some routes of a contract (a function serving part of the API, or a test). */
export function pick<C extends Record<string, AnyRoute>, N extends keyof C>(contract: C, ...names: N[]) {
  return Object.fromEntries(names.map((name) => [name, contract[name]])) as Pick<C, N>;
}
