/**
 * A typed client of a contract (packages/core/src/api/contract.ts): `call(route, input)` takes and returns exactly
 * the contract's types for every route. ApiClient (./api-client.ts) adds named shorthands.
 *
 *   const client = new ContractClient({ endpoint: "http://127.0.0.1:3000", region: "us-east-1" });
 *   await client.call("putKv", { params: { key: "cart-7" }, body: { value: 2, consistency: "all" } });
 *
 * What it retries, and what a failure means:
 * - A read (GET) is retried after a network error, a timeout, a 5xx or a 429, with jittered backoff.
 * - A write (POST, PUT, DELETE) carries an Idempotency-Key (a fresh UUID per call unless given), so
 *   sending it again cannot apply it twice: it is retried like a read, and after 409 RequestInProgress
 *   once the first attempt's `retryAfterMs` has passed. With `idempotencyKeys: false` a write is never
 *   retried.
 * - 503 OutcomeUnknown is never retried: the API keeps it as the key's answer (a second run could apply
 *   the write twice), so the client throws `UnknownOutcomeError` at once.
 * - A write whose last attempt ended without an answer (network error, timeout) or with a 5xx throws
 *   `UnknownOutcomeError`: it may or may not have taken effect. Read the key, then decide. Every other
 *   error is an `ApiError`: a definite answer (a 4xx: refused, nothing written; a 409: a conflict the
 *   caller can act on), or a read that kept failing.
 * - Answers are checked against the contract's response schema (`ContractError` when they do not fit).
 * - As in the AWS SDK v3: `endpoint`, `region`, `credentials` (or the SDK's default chain), `maxAttempts`,
 *   an `abortSignal` per call, `$metadata` on every answer and error (status, API Gateway's request id,
 *   attempts, total retry delay), and a `Retry-After` header honoured.
 */
import { randomUUID } from "node:crypto";
import {
  type AnyRoute,
  type Api,
  api,
  FINAL_SERVER_ERRORS,
  isWrite,
  type RouteInput,
  type RouteOutput,
} from "@serverless-coordination/core/api";
import { type CredentialSource, type Credentials, signedFetch } from "./signing.ts";

/** What the AWS SDK v3 calls `$metadata`: about the HTTP exchange behind an answer or an error. */
export interface ResponseMetadata {
  /** The last attempt's status; undefined when no answer came. */
  httpStatusCode?: number;
  /** API Gateway's id of the last attempt (its `apigw-requestid` or `x-amzn-requestid` header). */
  requestId?: string;
  /** Requests sent for the call, the first included. */
  attempts: number;
  /** Milliseconds spent waiting between them. */
  totalRetryDelay: number;
}

/** A route's answer, with `$metadata` (not enumerable: it is not part of the answer's data). */
export type WithMetadata<T> = T & { readonly $metadata: ResponseMetadata };

/** A definite error answer of the API (`{"error":{"code","message",...}}`), or a read that kept failing. */
export class ApiError extends Error {
  readonly outcome = "failed" as const;
  $metadata: ResponseMetadata = { attempts: 0, totalRetryDelay: 0 };
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.name = code;
  }
}

/**
 * A write that may or may not have taken effect: no answer came (`status` undefined), or a 5xx did. The
 * Idempotency-Key it was sent with is here, to send it again safely.
 */
export class UnknownOutcomeError extends Error {
  readonly outcome = "unknown" as const;
  $metadata: ResponseMetadata = { attempts: 0, totalRetryDelay: 0 };
  readonly route: string;
  readonly idempotencyKey: string | undefined;
  /** The last answer's status and code; undefined when no answer came. */
  readonly status: number | undefined;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(
    route: string,
    idempotencyKey: string | undefined,
    status: number | undefined,
    code: string,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(`${route}: outcome unknown: ${message}`);
    this.route = route;
    this.idempotencyKey = idempotencyKey;
    this.status = status;
    this.code = code;
    this.details = details;
    this.name = "UnknownOutcome";
  }
}

/** An answer that does not fit the contract: the client and the deployed API disagree. */
export class ContractError extends Error {
  $metadata: ResponseMetadata = { attempts: 0, totalRetryDelay: 0 };
}

export interface ApiClientOptions {
  /** The API's URL: the stack's ApiUrl output, or the local cloud's http://127.0.0.1:3000. */
  endpoint: string | URL;
  /**
   * The API's region. With it every request is SigV4-signed for execute-api (the deployed stack requires
   * IAM unless deployed with auth=none); without it, none is.
   */
  region?: string;
  /**
   * Credentials, or a provider of them (any of the SDK's fits). Without them a signed request uses the
   * SDK's default chain, when @aws-sdk/credential-provider-node (an optional peer) is installed.
   */
  credentials?: CredentialSource;
  /** Attempts per call, the first included (default 4); a write without an Idempotency-Key gets one. */
  maxAttempts?: number;
  /** Another fetch (a test's fake, or one that signs differently); signing wraps it. */
  fetch?: typeof fetch;
  /** The first backoff; each retry doubles it, with full jitter (default 100 ms). */
  backoffMs?: number;
  /** One attempt's time limit (default 35 s: past API Gateway's 30 s integration timeout). */
  timeoutMs?: number;
  /** Send writes with an Idempotency-Key and retry them (default true). */
  idempotencyKeys?: boolean;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** The clock a Retry-After date is read against (and the lookup cache's). */
  now?: () => number;
}

export interface CallOptions {
  /** The write's Idempotency-Key (default: a fresh UUID per call). */
  idempotencyKey?: string;
  /** Ends the call (and its retries) when aborted, as the SDK's `send(command, { abortSignal })`. */
  abortSignal?: AbortSignal;
}

/** The SDK's default credential chain, loaded once on first use; a clear error when it is not installed. */
let defaultChain: Promise<() => Promise<Credentials>> | undefined;
function defaultCredentials(): () => Promise<Credentials> {
  return async () => {
    defaultChain ??= import("@aws-sdk/credential-provider-node").then(
      (module) => module.defaultProvider(),
      () => {
        defaultChain = undefined;
        throw new Error(
          "no credentials to sign with: pass `credentials`, or install @aws-sdk/credential-provider-node for the SDK's default chain",
        );
      },
    );
    return (await defaultChain)();
  };
}

/** The wait a Retry-After header asks for (seconds, or an HTTP date), in ms; undefined without one. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const RETRYABLE_STATUS = (status: number) => status >= 500 || status === 429;

export class ContractClient<C extends Record<string, AnyRoute> = Api> {
  private readonly fetch: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  /** Requests sent (every attempt), for whoever wants to see retries or a cache at work. */
  requests = 0;

  private readonly options: ApiClientOptions;
  /** The contract to speak (the API's by default). */
  readonly contract: C;

  constructor(options: ApiClientOptions, contract: C = api as unknown as C) {
    this.options = options;
    this.contract = contract;
    if (
      options.maxAttempts !== undefined &&
      !(Number.isInteger(options.maxAttempts) && options.maxAttempts >= 1)
    )
      throw new Error(`maxAttempts must be an integer of at least 1, not ${options.maxAttempts}`);
    const base = options.fetch ?? fetch;
    this.fetch = options.region
      ? signedFetch({
          region: options.region,
          credentials: options.credentials ?? defaultCredentials(),
          fetch: base,
        })
      : base;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  /** Calls one route of the contract by name. */
  async call<N extends keyof C & string>(
    name: N,
    input: RouteInput<C[N]>,
    options: CallOptions = {},
  ): Promise<WithMetadata<RouteOutput<C[N]>>> {
    const route = this.contract[name];
    if (!route) throw new Error(`the contract has no route ${name}`);
    const { params, query, body } = input as {
      params?: Record<string, string>;
      query?: object;
      body?: unknown;
    };
    const url = new URL(
      String(this.options.endpoint).replace(/\/$/, "") +
        route.path.replace(/\{([^}]+)\}/g, (_, param: string) => encodeURIComponent(params?.[param] ?? "")),
    );
    for (const [param, value] of Object.entries(query ?? {}))
      if (value !== undefined) url.searchParams.set(param, String(value));
    const write = isWrite(route);
    const keyed = write && (this.options.idempotencyKeys ?? true);
    const idempotencyKey = keyed ? (options.idempotencyKey ?? randomUUID()) : undefined;
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    const text = body === undefined ? undefined : JSON.stringify(body);
    const retries = write && !keyed ? 0 : (this.options.maxAttempts ?? 4) - 1;
    const metadata: ResponseMetadata = { attempts: 0, totalRetryDelay: 0 };
    const signal = options.abortSignal;
    const label = `${route.method} ${route.path}`;

    let last: { status?: number; code: string; message: string; details: Record<string, unknown> };
    for (let attempt = 0; ; attempt++) {
      let wait = this.backoff(attempt);
      try {
        this.requests++;
        metadata.attempts++;
        metadata.httpStatusCode = undefined;
        metadata.requestId = undefined;
        const response = await this.fetch(url, {
          method: route.method,
          headers,
          body: text,
          signal: AbortSignal.any([
            AbortSignal.timeout(this.options.timeoutMs ?? 35_000),
            ...(signal ? [signal] : []),
          ]),
        });
        metadata.httpStatusCode = response.status;
        metadata.requestId =
          response.headers.get("apigw-requestid") ?? response.headers.get("x-amzn-requestid") ?? undefined;
        const answer = await response.text();
        const parsed = parseJson(answer);
        if (response.ok) {
          const checked = route.response.safeParse(parsed);
          if (!checked.success)
            throw new ContractError(
              `${label} answered what the contract does not allow: ${checked.error.message}`,
            );
          return withMetadata(checked.data, metadata) as WithMetadata<RouteOutput<C[N]>>;
        }
        const error = (parsed as { error?: Record<string, unknown> } | undefined)?.error ?? {};
        const { code: rawCode, message: rawMessage, ...details } = error;
        const code = typeof rawCode === "string" ? rawCode : `Http${response.status}`;
        const message = typeof rawMessage === "string" ? rawMessage : answer.slice(0, 200);
        last = { status: response.status, code, message, details };
        const inProgress = keyed && response.status === 409 && code === "RequestInProgress";
        if (write && FINAL_SERVER_ERRORS.has(code))
          throw new UnknownOutcomeError(label, idempotencyKey, response.status, code, message, details);
        if (!inProgress && !RETRYABLE_STATUS(response.status))
          throw new ApiError(response.status, code, message, details);
        if (inProgress) wait = Math.max(wait, Number(details.retryAfterMs ?? 0));
        // A 429 or 503 may say when to come back: not sooner.
        wait = Math.max(
          wait,
          retryAfterMs(response.headers.get("retry-after"), (this.options.now ?? Date.now)()) ?? 0,
        );
      } catch (error) {
        if (
          error instanceof ApiError ||
          error instanceof ContractError ||
          error instanceof UnknownOutcomeError
        ) {
          error.$metadata = { ...metadata };
          throw error;
        }
        if (signal?.aborted) throw error;
        // No answer: a network error or this attempt's timeout.
        last = {
          code: "NoAnswer",
          message: error instanceof Error ? error.message : String(error),
          details: {},
        };
      }
      if (attempt >= retries) break;
      metadata.totalRetryDelay += wait;
      await this.sleep(wait);
      if (signal?.aborted) throw signal.reason;
    }
    // Still running when the retries ran out: the first attempt may yet take effect.
    const stillRunning = last.status === 409 && last.code === "RequestInProgress";
    const error =
      write && (last.status === undefined || last.status >= 500 || stillRunning)
        ? new UnknownOutcomeError(label, idempotencyKey, last.status, last.code, last.message, last.details)
        : new ApiError(last.status ?? 0, last.code, last.message, last.details);
    error.$metadata = { ...metadata };
    throw error;
  }

  private backoff(attempt: number) {
    return Math.floor(this.random() * (this.options.backoffMs ?? 100) * 2 ** attempt);
  }
}

/** The answer with `$metadata` beside its data, as the SDK's outputs carry it (not enumerable here). */
function withMetadata<T>(data: T, metadata: ResponseMetadata): T {
  if (typeof data === "object" && data !== null)
    Object.defineProperty(data, "$metadata", { value: { ...metadata }, enumerable: false });
  return data;
}

const parseJson = (text: string): unknown => {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
};
