import { signedFetch } from "@serverless-coordination/client";
import { LOCAL_REGION } from "@serverless-coordination/local-cloud";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueId } from "../support/local-cloud.ts";
import { type E2ETarget, startTarget } from "../support/target.ts";

let target: E2ETarget;
beforeAll(async () => {
  target = await startTarget();
});
afterAll(async () => {
  await target?.stop();
});

it("GET /health answers 200 {status: ok}, without a signature", async () => {
  const response = await fetch(`${target.baseUrl}/health`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/application\/json/);
  expect(await response.json()).toEqual({ status: "ok" });
});

it("answers an unknown route with 404", async () => {
  expect((await target.fetch(`${target.baseUrl}/no/such/route`)).status).toBe(404);
});

describe("IAM authorization (SigV4) of every route but /health", () => {
  const put = (call: typeof fetch, key: string, body = JSON.stringify({ value: 1, consistency: "all" })) =>
    call(`${target.baseUrl}/kv/${key}`, { method: "PUT", body });

  it("refuses an unsigned write with 403 and writes nothing; the signed one answers 200", async () => {
    const key = `auth-${uniqueId()}`;
    const unsigned = await put(fetch, key);
    expect(unsigned.status).toBe(403);
    expect((await target.fetch(`${target.baseUrl}/kv/${key}`)).status).toBe(404);
    expect((await fetch(`${target.baseUrl}/kv/${key}`)).status).toBe(403);
    expect((await put(target.fetch, key)).status).toBe(200);
  });

  it("refuses a request signed with the wrong secret, or whose body changed after signing", async () => {
    const key = `auth-${uniqueId()}`;
    const wrongSecret = signedFetch({
      region: process.env.E2E_BASE_URL ? (process.env.AWS_REGION ?? "us-east-1") : LOCAL_REGION,
      credentials: {
        accessKeyId: target.cloud?.accessKeyId ?? "AKIAIOSFODNN7EXAMPLE",
        secretAccessKey: "wrong",
      },
    });
    expect((await put(wrongSecret, key)).status).toBe(403);
    // Sign one body (the signed headers are captured instead of sent), send another with them.
    let sentHeaders: Headers | undefined;
    const capture: typeof fetch = async (_input, init) => {
      sentHeaders = new Headers(init?.headers);
      return new Response(null, { status: 599 });
    };
    const original = globalThis.fetch;
    globalThis.fetch = capture;
    try {
      await put(target.fetch, key, JSON.stringify({ value: 1, consistency: "all" }));
    } finally {
      globalThis.fetch = original;
    }
    const replayed = await fetch(`${target.baseUrl}/kv/${key}`, {
      method: "PUT",
      headers: sentHeaders,
      body: JSON.stringify({ value: 2, consistency: "all" }),
    });
    expect(replayed.status).toBe(403);
    expect((await target.fetch(`${target.baseUrl}/kv/${key}`)).status).toBe(404);
  });
});
