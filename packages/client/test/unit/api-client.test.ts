/** The typed client's rules: what it retries, what "unknown" means, and that it covers every route. */

import { api, type RouteName, routeKey } from "@serverless-coordination/core/api";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError, ContractError, UnknownOutcomeError } from "../../src/api-client.ts";

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | "network-error" | "hang";

/** A scripted server: answers in order; records each request. */
function server(answers: Answer[]) {
  const requests: Array<{ method: string; url: URL; headers: Headers; body?: string }> = [];
  const send = (async (url: URL, init: RequestInit = {}) => {
    requests.push({
      method: String(init.method),
      url: new URL(url),
      headers: new Headers(init.headers),
      body: init.body as string | undefined,
    });
    const answer = answers.shift() ?? { status: 500, body: { error: { code: "Unscripted", message: "" } } };
    if (answer === "network-error") throw new TypeError("fetch failed");
    if (answer === "hang")
      return new Promise<Response>((_, reject) =>
        init.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
      );
    return new Response(answer.body === undefined ? "" : JSON.stringify(answer.body), {
      status: answer.status,
      headers: answer.headers,
    });
  }) as unknown as typeof globalThis.fetch;
  return { fetch: send, requests };
}

const sleeps: number[] = [];
const client = (answers: Answer[], options: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}) => {
  const fake = server(answers);
  sleeps.length = 0;
  const api = new ApiClient({
    endpoint: "http://127.0.0.1:3000/",
    fetch: fake.fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
  return { api, requests: fake.requests };
};

const register = { status: 200, body: { key: "k", value: 1, version: 3 } };
const unavailable = {
  status: 503,
  body: { error: { code: "NoQuorum", message: "only 1 of 3 replicas answered" } },
};

describe("reads", () => {
  it("are retried after a 5xx or no answer, with growing backoff, and answer the first 200", async () => {
    const { api, requests } = client([unavailable, "network-error", register]);
    expect(await api.paxos.read("k")).toEqual({ key: "k", value: 1, version: 3 });
    expect(requests.map((r) => `${r.method} ${r.url.pathname}`)).toEqual(Array(3).fill("GET /paxos/k"));
    expect(sleeps).toEqual([50, 100]);
    expect(requests[0]!.headers.has("idempotency-key")).toBe(false);
  });

  it("are not retried after a 4xx: the answer is definite", async () => {
    const { api, requests } = client([
      { status: 404, body: { error: { code: "KeyNotFound", message: "never written", key: "k" } } },
    ]);
    const error = await api.paxos.read("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 404,
      code: "KeyNotFound",
      outcome: "failed",
      details: { key: "k" },
    });
    expect(requests).toHaveLength(1);
  });

  it("that keep failing throw ApiError, never an unknown outcome (a read changes nothing)", async () => {
    const { api, requests } = client([unavailable, unavailable, unavailable], { maxAttempts: 3 });
    const error = await api.kv.get("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).not.toBeInstanceOf(UnknownOutcomeError);
    expect(requests).toHaveLength(3);
  });
});

describe("writes", () => {
  it("carry an Idempotency-Key and are retried with the same one, so the retry cannot apply twice", async () => {
    const { api, requests } = client([unavailable, "network-error", register]);
    expect(await api.paxos.set("k", 1)).toMatchObject({ version: 3 });
    const keys = requests.map((r) => r.headers.get("idempotency-key"));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(keys).size).toBe(1);
    expect(requests.map((r) => r.body)).toEqual(Array(3).fill(JSON.stringify({ value: 1 })));
  });

  it("that end in 5xx or without an answer throw UnknownOutcomeError with the key to retry with", async () => {
    const { api, requests } = client([unavailable, unavailable, "network-error"], { maxAttempts: 3 });
    const error = await api.kv
      .put("k", { n: 1 }, "all", { idempotencyKey: "order-7" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeError);
    expect(error).toMatchObject({
      outcome: "unknown",
      idempotencyKey: "order-7",
      status: undefined,
      code: "NoAnswer",
      route: "PUT /kv/{key}",
    });
    expect(requests).toHaveLength(3);

    const last503 = client([unavailable], { maxAttempts: 1 });
    await expect(last503.api.paxos.propose("k", 1)).rejects.toMatchObject({
      outcome: "unknown",
      status: 503,
      code: "NoQuorum",
    });
  });

  it("still answered 409 RequestInProgress when the retries run out throw UnknownOutcomeError", async () => {
    const inProgress = {
      status: 409,
      body: { error: { code: "RequestInProgress", message: "still running", retryAfterMs: 50 } },
    };
    const { api, requests } = client([inProgress, inProgress, inProgress], { maxAttempts: 3 });
    await expect(api.paxos.set("k", 1)).rejects.toMatchObject({
      outcome: "unknown",
      status: 409,
      code: "RequestInProgress",
    });
    expect(requests).toHaveLength(3);
  });

  it("answered 503 OutcomeUnknown are not retried: the API keeps that answer for the key", async () => {
    const unknown = {
      status: 503,
      body: { error: { code: "OutcomeUnknown", message: "a write may or may not have taken effect" } },
    };
    const { api, requests } = client([unknown, register]);
    await expect(api.paxos.set("k", 1, { idempotencyKey: "order-8" })).rejects.toMatchObject({
      outcome: "unknown",
      status: 503,
      code: "OutcomeUnknown",
      idempotencyKey: "order-8",
    });
    expect(requests).toHaveLength(1);
  });

  it("without Idempotency-Keys are sent once: a 503 is an unknown outcome, not retried", async () => {
    const { api, requests } = client([unavailable, register], { idempotencyKeys: false });
    await expect(api.paxos.set("k", 1)).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.headers.has("idempotency-key")).toBe(false);
  });

  it("wait out 409 RequestInProgress (retryAfterMs) and then get the first attempt's answer", async () => {
    const inProgress = {
      status: 409,
      body: { error: { code: "RequestInProgress", message: "still running", retryAfterMs: 700 } },
    };
    const { api, requests } = client([inProgress, register]);
    expect(await api.paxos.cas("k", 2, 1)).toMatchObject({ version: 3 });
    expect(sleeps).toEqual([700]);
    expect(requests[1]!.body).toBe(JSON.stringify({ value: 1, ifVersion: 2 }));
  });

  it("refused with a 4xx or a conflict throw ApiError at once: definite, nothing to retry", async () => {
    const conflict = {
      status: 409,
      body: { error: { code: "VersionConflict", message: "version is 4", version: 4 } },
    };
    const { api, requests } = client([conflict]);
    const error = await api.paxos.cas("k", 2, 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ outcome: "failed", code: "VersionConflict", details: { version: 4 } });
    expect(requests).toHaveLength(1);
  });

  it("whose attempt times out count as unanswered", async () => {
    const { api } = client(["hang"], { maxAttempts: 1, timeoutMs: 20 });
    await expect(api.servers.heartbeat("a")).rejects.toMatchObject({ outcome: "unknown", code: "NoAnswer" });
  });
});

describe("answers", () => {
  it("that do not fit the contract throw ContractError", async () => {
    const { api } = client([{ status: 200, body: { key: "k", value: 1, version: "three" } }]);
    await expect(api.paxos.read("k")).rejects.toBeInstanceOf(ContractError);
  });

  it("signs requests with SigV4 for the region, with the credentials given", async () => {
    const { api, requests } = client([{ status: 200, body: { status: "ok" } }], {
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    await api.health();
    expect(requests[0]!.headers.get("authorization")).toMatch(/^AWS4-HMAC-SHA256 Credential=local\//);
    expect(requests[0]!.headers.get("x-amz-date")).toMatch(/^\d{8}T\d{6}Z$/);
  });
});

describe("coverage", () => {
  it("the named methods reach every route of the contract", async () => {
    const assignment = {
      sessionId: "s",
      serverId: "a",
      leaseExpiresAt: Date.now() + 60_000,
      fencingToken: 1,
    };
    // A valid answer for each route, so every method runs to the end.
    const answers: Record<RouteName, unknown> = {
      health: { status: "ok" },
      proposeOnce: { key: "k", value: 1, version: 1, won: true },
      setRegister: { key: "k", value: 1, version: 1 },
      readRegister: { key: "k", value: 1, version: 1 },
      putKv: { key: "k", version: "001700000000000.000000", consistency: "all", acks: ["Replica1"] },
      getKv: { key: "k", value: 1, version: "001700000000000.000000" },
      kvChanges: { key: "k", changes: 1 },
      heartbeat: { serverId: "a", expiresAt: 1, epoch: "e", leases: [] },
      listServers: { servers: [{ serverId: "a", epoch: "e", expiresAt: 1, slot: 0 }] },
      lookup: assignment,
      move: { ...assignment, waitedMs: 0 },
      release: { ...assignment, released: true },
      writeState: { ...assignment, state: 1 },
      readState: { sessionId: "s", state: 1, fencingToken: 1 },
      meshSubset: { clientId: "1", algorithm: "slot", size: 1, clients: 1, backends: ["a"] },
    };
    const reached = new Set<string>();
    const fetch = (async (url: URL, init: RequestInit = {}) => {
      const path = new URL(url).pathname;
      const [name, route] = Object.entries(api).find(
        ([, r]) =>
          r.method === init.method && new RegExp(`^${r.path.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path),
      )!;
      reached.add(routeKey(route));
      return new Response(JSON.stringify(answers[name as RouteName]), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const c = new ApiClient({ endpoint: "http://127.0.0.1:3000", fetch });
    await c.health();
    await c.paxos.propose("k", 1);
    await c.paxos.set("k", 1);
    await c.paxos.read("k");
    await c.kv.put("k", 1);
    await c.kv.get("k", { replica: "Replica2" });
    await c.kv.changes("k");
    (await c.servers.keepAlive("a", 60_000)).stop();
    await c.servers.list();
    await c.sessions.lookupUncached("s");
    await c.sessions.moveOnce("s", "a", false);
    await c.sessions.lookup("s");
    await c.sessions.writeState("s", "a", 1);
    await c.sessions.release("s", "a");
    await c.sessions.readState("s");
    await c.mesh.subset("1", { size: 1, clients: 1 });
    expect([...reached].sort()).toEqual(Object.values(api).map(routeKey).sort());
  });
});

describe("in the AWS SDK v3's conventions", () => {
  afterEach(() => vi.unstubAllEnvs());
  const ok = { status: 200, body: { status: "ok" } };

  it("signs with the SDK's default credential chain when given a region and no credentials", async () => {
    vi.stubEnv("AWS_ACCESS_KEY_ID", "from-the-environment");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
    const { api, requests } = client([ok], { region: "eu-west-1" });
    await api.health();
    expect(requests[0]!.headers.get("authorization")).toMatch(
      /^AWS4-HMAC-SHA256 Credential=from-the-environment\/\d{8}\/eu-west-1\/execute-api\/aws4_request/,
    );
  });

  it("sends unsigned requests without a region (an API deployed with auth=none)", async () => {
    const { api, requests } = client([ok]);
    await api.health();
    expect(requests[0]!.headers.has("authorization")).toBe(false);
  });

  it("answers $metadata: status, API Gateway's request id, attempts and the retry delay, beside the data", async () => {
    const { api } = client([
      { ...unavailable, headers: { "apigw-requestid": "first" } },
      { ...register, headers: { "apigw-requestid": "second" } },
    ]);
    const answer = await api.paxos.read("k");
    expect(answer).toEqual({ key: "k", value: 1, version: 3 });
    expect(answer.$metadata).toEqual({
      httpStatusCode: 200,
      requestId: "second",
      attempts: 2,
      totalRetryDelay: 50,
    });
    // Not part of the data: JSON and spreading leave it out.
    expect(JSON.parse(JSON.stringify(answer))).toEqual({ key: "k", value: 1, version: 3 });
  });

  it("puts $metadata on errors too (a REST API's x-amzn-RequestId counts)", async () => {
    const { api } = client([
      {
        status: 404,
        body: { error: { code: "KeyNotFound", message: "never written" } },
        headers: { "x-amzn-requestid": "rest-id" },
      },
    ]);
    const error = (await api.paxos.read("k").catch((e: unknown) => e)) as ApiError;
    expect(error.$metadata).toEqual({
      httpStatusCode: 404,
      requestId: "rest-id",
      attempts: 1,
      totalRetryDelay: 0,
    });
    const unknown = client(["network-error"], { maxAttempts: 1 });
    const lost = (await unknown.api.kv.put("k", 1).catch((e: unknown) => e)) as UnknownOutcomeError;
    expect(lost).toBeInstanceOf(UnknownOutcomeError);
    expect(lost.$metadata).toEqual({ attempts: 1, totalRetryDelay: 0 });
  });

  it("makes maxAttempts attempts in all, the first included", async () => {
    const { api, requests } = client([unavailable, unavailable, unavailable, unavailable], {
      maxAttempts: 2,
    });
    await expect(api.paxos.read("k")).rejects.toBeInstanceOf(ApiError);
    expect(requests).toHaveLength(2);
    expect(() => new ApiClient({ endpoint: "http://127.0.0.1:3000", maxAttempts: 0 })).toThrow(/maxAttempts/);
  });

  it("waits at least what Retry-After asks, in seconds or as a date", async () => {
    const busy = (retryAfter: string) => ({
      status: 429,
      body: { error: { code: "TooManyRequests", message: "slow down" } },
      headers: { "retry-after": retryAfter },
    });
    const now = Date.UTC(2030, 0, 1, 12, 0, 0);
    const { api } = client([busy("3"), busy(new Date(now + 60_000).toUTCString()), register], {
      now: () => now,
    });
    await api.paxos.read("k");
    expect(sleeps).toEqual([3000, 60_000]);
  });

  it("stops a call and its retries when its abortSignal aborts", async () => {
    const controller = new AbortController();
    const fake = server([unavailable, unavailable, register]);
    const api = new ApiClient({
      endpoint: "http://127.0.0.1:3000",
      fetch: fake.fetch,
      random: () => 0.5,
      sleep: async () => controller.abort(new Error("the caller gave up")),
    });
    await expect(api.paxos.read("k", { abortSignal: controller.signal })).rejects.toThrow(
      "the caller gave up",
    );
    expect(fake.requests).toHaveLength(1);
  });
});
