/**
 * A typed client of a contract (packages/core/src/api/contract.ts): `call(route, input)` takes and returns exactly
 * the contract's types for every route. ApiClient (./api-client.ts) adds named shorthands.
 *
 *   const client = new ContractClient({ baseUrl: "http://127.0.0.1:3000" });
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
import { type CredentialSource, signedFetch } from "./signing.ts";

/** A definite error answer of the API (`{"error":{"code","message",...}}`), or a read that kept failing. */
export class ApiError extends Error {
  readonly outcome = "failed" as const;
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
export class ContractError extends Error {}

export interface ApiClientOptions {
  /** The API's URL (the local cloud's http://127.0.0.1:3000, or the stack's ApiUrl output). */
  baseUrl: string;
  /** Sign every request with SigV4 (the deployed stack requires IAM unless deployed with auth=none). */
  signing?: { region: string; credentials: CredentialSource };
  /** Another fetch (a test's fake, or one that signs differently); `signing` wraps it. */
  fetch?: typeof fetch;
  /** Retries after the first attempt (default 3). */
  retries?: number;
  /** The first backoff; each retry doubles it, with full jitter (default 100 ms). */
  backoffMs?: number;
  /** One attempt's time limit (default 35 s: past API Gateway's 30 s integration timeout). */
  timeoutMs?: number;
  /** Send writes with an Idempotency-Key and retry them (default true). */
  idempotencyKeys?: boolean;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface CallOptions {
  /** The write's Idempotency-Key (default: a fresh UUID per call). */
  idempotencyKey?: string;
  signal?: AbortSignal;
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
    const base = options.fetch ?? fetch;
    this.fetch = options.signing ? signedFetch({ ...options.signing, fetch: base }) : base;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  /** Calls one route of the contract by name. */
  async call<N extends keyof C & string>(
    name: N,
    input: RouteInput<C[N]>,
    options: CallOptions = {},
  ): Promise<RouteOutput<C[N]>> {
    const route = this.contract[name];
    if (!route) throw new Error(`the contract has no route ${name}`);
    const { params, query, body } = input as {
      params?: Record<string, string>;
      query?: object;
      body?: unknown;
    };
    const url = new URL(
      this.options.baseUrl.replace(/\/$/, "") +
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
    const retries = write && !keyed ? 0 : (this.options.retries ?? 3);
    const label = `${route.method} ${route.path}`;

    let last: { status?: number; code: string; message: string; details: Record<string, unknown> };
    for (let attempt = 0; ; attempt++) {
      let wait = this.backoff(attempt);
      try {
        this.requests++;
        const response = await this.fetch(url, {
          method: route.method,
          headers,
          body: text,
          signal: AbortSignal.any([
            AbortSignal.timeout(this.options.timeoutMs ?? 35_000),
            ...(options.signal ? [options.signal] : []),
          ]),
        });
        const answer = await response.text();
        const parsed = parseJson(answer);
        if (response.ok) {
          const checked = route.response.safeParse(parsed);
          if (!checked.success)
            throw new ContractError(
              `${label} answered what the contract does not allow: ${checked.error.message}`,
            );
          return checked.data as RouteOutput<C[N]>;
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
      } catch (error) {
        if (
          error instanceof ApiError ||
          error instanceof ContractError ||
          error instanceof UnknownOutcomeError
        )
          throw error;
        if (options.signal?.aborted) throw error;
        // No answer: a network error or this attempt's timeout.
        last = {
          code: "NoAnswer",
          message: error instanceof Error ? error.message : String(error),
          details: {},
        };
      }
      if (attempt >= retries) break;
      await this.sleep(wait);
    }
    // Still running when the retries ran out: the first attempt may yet take effect.
    const stillRunning = last.status === 409 && last.code === "RequestInProgress";
    if (write && (last.status === undefined || last.status >= 500 || stillRunning))
      throw new UnknownOutcomeError(
        label,
        idempotencyKey,
        last.status,
        last.code,
        last.message,
        last.details,
      );
    throw new ApiError(last.status ?? 0, last.code, last.message, last.details);
  }

  private backoff(attempt: number) {
    return Math.floor(this.random() * (this.options.backoffMs ?? 100) * 2 ** attempt);
  }
}

const parseJson = (text: string): unknown => {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
};
