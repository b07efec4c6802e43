import { describe, expect, it } from "vitest";
import { LookupClient } from "../../src/lookup-client.ts";

/** A fake lookup service: answers are scripted per request, in order. */
function service(answers: Array<{ status: number; body: unknown }>) {
  const requests: Array<{ method: string; url: string; body?: string }> = [];
  const fetch = (async (url: string, init?: RequestInit) => {
    requests.push({
      method: init?.method ?? "GET",
      url: String(url),
      body: init?.body as string | undefined,
    });
    const answer = answers.shift() ?? { status: 500, body: { error: { code: "Unscripted" } } };
    return new Response(JSON.stringify(answer.body), { status: answer.status });
  }) as typeof globalThis.fetch;
  return { fetch, requests };
}

const lease = (serverId: string, fencingToken: number) => ({
  status: 200,
  body: { sessionId: "s", serverId, fencingToken, leaseExpiresAt: 10_000 },
});

describe("LookupClient", () => {
  it("ignores a late answer that still carries a token it released", async () => {
    const fake = service([
      lease("a", 1), // the lookup that made this client the holder
      { status: 200, body: { sessionId: "s", serverId: "a", fencingToken: 1, released: true } },
      lease("a", 1), // sent before the release, arriving after it
      lease("b", 2), // the next answer: the session moved on
    ]);
    const client = new LookupClient({
      endpoint: "http://127.0.0.1:1",
      maxSkewMs: 100,
      fetch: fake.fetch,
      now: () => 0,
    });
    expect(await client.lookup("s")).toMatchObject({ serverId: "a", fencingToken: 1 });
    await client.release("s", "a");
    expect(fake.requests[1]).toMatchObject({
      method: "DELETE",
      body: JSON.stringify({ serverId: "a", fencingToken: 1 }),
    });
    expect(await client.lookup("s")).toMatchObject({ serverId: "b", fencingToken: 2 });
    // The stale answer was not cached either: the cached lease is the new one.
    expect(await client.lookup("s")).toMatchObject({ serverId: "b", fencingToken: 2 });
    expect(fake.requests).toHaveLength(4);
  });

  it("caches until the lease's expiry minus the skew bound, then asks again", async () => {
    let now = 0;
    const fake = service([lease("a", 1), lease("a", 1)]);
    const client = new LookupClient({
      endpoint: "http://127.0.0.1:1",
      maxSkewMs: 100,
      fetch: fake.fetch,
      now: () => now,
    });
    await client.lookup("s");
    now = 9_899;
    await client.lookup("s");
    expect(fake.requests).toHaveLength(1);
    now = 9_900;
    await client.lookup("s");
    expect(fake.requests).toHaveLength(2);
  });
});
