/**
 * The sticky lookup service end to end, with short leases (6 s, skew bound 300 ms): servers heartbeat,
 * sessions are assigned, kept, moved, released and fenced through the HTTP API. Each test looks up the
 * sessions it checks itself; the servers and their heartbeats are the shared setup.
 */

import { ApiClient, ApiError, LookupClient, LookupError } from "@serverless-coordination/client";
import { deterministicSubset, type SlottedBackend, slotSubset } from "@serverless-coordination/core/mesh";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callApi, pool } from "../support/http.ts";
import { uniqueId } from "../support/local-cloud.ts";
import { type E2ETarget, startTarget } from "../support/target.ts";

// Short leases, but long enough that heartbeats queued behind a burst of lookups on the local cloud
// still land in time on a loaded two-core machine (a heartbeat every 1.5 s; seen queued up to ~3 s).
const LEASE_MS = 6_000;
const SKEW_MS = 300;
let target: E2ETarget;
const run = uniqueId();
const SERVERS = ["a", "b", "c"].map((name) => `srv-${run}-${name}`);
const beating = new Set(SERVERS);
let heartbeats: ReturnType<typeof setInterval> | undefined;
/** When each server's last successful heartbeat was sent, and the expiry it was promised. */
const lastBeat = new Map<string, { sentAt: number; expiresAt: number }>();

const call = (method: string, path: string, body?: unknown) => callApi(target.baseUrl, method, path, body);
const inFlight = new Map<string, number>();
const heartbeat = async (serverId: string) => {
  const sentAt = Date.now();
  inFlight.set(serverId, (inFlight.get(serverId) ?? 0) + 1);
  const answer = await call("POST", `/servers/${serverId}/heartbeat`, {}).finally(() =>
    inFlight.set(serverId, inFlight.get(serverId)! - 1),
  );
  if (answer.status === 200) lastBeat.set(serverId, { sentAt, expiresAt: answer.body.expiresAt });
  return answer;
};
const lookup = async (sessionId: string) => {
  const answer = await call("GET", `/sessions/${sessionId}`);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as { sessionId: string; serverId: string; leaseExpiresAt: number; fencingToken: number };
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  target = await startTarget({ leaseDurationMs: LEASE_MS, maxClockSkewMs: SKEW_MS });
  for (const server of SERVERS) expect((await heartbeat(server)).status).toBe(200);
  heartbeats = setInterval(() => {
    for (const server of beating) void heartbeat(server);
  }, LEASE_MS / 4);
});
afterAll(async () => {
  clearInterval(heartbeats);
  await target?.stop();
});

/** Fresh sessions for one test, looked up (assigned) by it: their servers by session id. */
async function assign(prefix: string, count: number): Promise<Map<string, string>> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${run}-${i}`);
  const answers = await pool(ids.length, 8, (i) => lookup(ids[i]!));
  return new Map(answers.map((answer) => [answer.sessionId, answer.serverId]));
}

describe("assignment", () => {
  it("lists the live servers", async () => {
    const answer = await call("GET", "/servers");
    expect(answer.body.servers.map((server: { serverId: string }) => server.serverId)).toEqual(SERVERS);
  });

  it("spreads 1,000 sessions over three servers, each within ±20% of an even share", async () => {
    const sessions = Array.from({ length: 1000 }, (_, i) => `sess-${run}-${i}`);
    const answers = await pool(sessions.length, 8, (i) => lookup(sessions[i]!));
    const counts = SERVERS.map((server) => answers.filter((answer) => answer.serverId === server).length);
    console.log(`1,000 sessions over ${SERVERS.length} servers: ${counts.join(", ")}`);
    for (const count of counts) expect(Math.abs(count - 1000 / 3)).toBeLessThanOrEqual((1000 / 3) * 0.2);
    expect(new Set(answers.map((answer) => answer.fencingToken))).toEqual(new Set([1]));
  });

  it("gives a session the same server while its lease lives", async () => {
    const assigned = await assign("kept", 300);
    const sessions = [...assigned.keys()];
    await sleep(LEASE_MS); // longer than a lease: only the heartbeats keep them
    const again = await pool(sessions.length, 8, (i) => lookup(sessions[i]!));
    for (const answer of again) {
      expect(answer.serverId).toBe(assigned.get(answer.sessionId));
      expect(answer.fencingToken).toBe(1);
    }
  });

  it("gives 20 concurrent first lookups of one session the same server", async () => {
    const id = `race-${run}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => lookup(id)));
    expect(new Set(answers.map((answer) => answer.serverId)).size).toBe(1);
    expect(new Set(answers.map((answer) => answer.fencingToken))).toEqual(new Set([1]));
  });

  it("answers slot subsets by default, the same a client computes from GET /servers, and the other algorithms on request", async () => {
    const { servers } = (await call("GET", "/servers")).body as { servers: SlottedBackend[] };
    expect(servers.map((server) => server.serverId).sort()).toEqual([...SERVERS].sort());
    expect(servers.map((server) => server.slot).sort()).toEqual([0, 1, 2]);
    const answer = await call("GET", "/mesh/subsets/7?size=2&clients=10");
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ algorithm: "slot", clients: 10, size: 2 });
    expect(answer.body.backends).toEqual(slotSubset(servers, 7, 10, 2));
    expect((await call("GET", "/mesh/subsets/7?size=2&clients=10")).body).toEqual(answer.body);
    const ids = servers.map((server) => server.serverId).sort();
    const deterministic = await call("GET", "/mesh/subsets/7?size=2&algorithm=deterministic");
    expect(deterministic.body.backends).toEqual(deterministicSubset(ids, 7, 2));
    const random = await call("GET", "/mesh/subsets/7?size=2&algorithm=random");
    expect(random.body.backends).toHaveLength(2);
    expect((await call("GET", "/mesh/subsets/7?size=2&algorithm=random")).body).toEqual(random.body);
    for (const bad of [
      "size=zero",
      "size=1e3",
      "size=2.0",
      "algorithm=ring",
      "clients=5",
      "clients=0",
      "extra=1",
    ]) {
      const refused = await call("GET", `/mesh/subsets/7?${bad}`);
      expect(refused.status, bad).toBe(400);
      expect(refused.body.error.code, bad).toMatch(/^Invalid/);
    }
    // An id of digits only is an index, whatever its length: never silently hashed as a name.
    for (const id of ["999999999999999", "9999999999999999", "007"]) {
      const refused = await call("GET", `/mesh/subsets/${id}`);
      expect(refused.status, id).toBe(400);
      expect(refused.body.error.code, id).toBe("InvalidClientId");
    }
  });
});

describe("a server that stops heartbeating", () => {
  it("loses its sessions only after its lease expires, and no other session moves", async () => {
    const victim = SERVERS[0]!;
    const assigned = await assign("victim", 300);
    const watched = [...assigned.keys()];
    beating.delete(victim);
    try {
      await stopsHeartbeating(victim, assigned, watched);
    } finally {
      beating.add(victim);
      await heartbeat(victim);
    }
  }, 120_000);
});

async function stopsHeartbeating(victim: string, assigned: Map<string, string>, watched: string[]) {
  {
    while ((inFlight.get(victim) ?? 0) > 0) await sleep(20); // let any heartbeat in flight land
    const { sentAt: stoppedAt, expiresAt: promised } = lastBeat.get(victim)!;
    const theirs = watched.filter((id) => assigned.get(id) === victim);
    expect(theirs.length).toBeGreaterThan(0);
    // Until the lease (plus the skew bound) has run out, nothing moves.
    const movedAt = new Map<string, number>();
    while (movedAt.size < theirs.length && Date.now() - stoppedAt < LEASE_MS * 3) {
      for (const id of theirs) {
        if (movedAt.has(id)) continue;
        const answer = await lookup(id);
        if (answer.serverId !== victim) {
          movedAt.set(id, Date.now());
          expect(answer.fencingToken).toBe(2);
        }
      }
    }
    expect(movedAt.size).toBe(theirs.length);
    const earliest = Math.min(...movedAt.values()) - stoppedAt;
    console.log(
      `sessions of ${victim} moved ${earliest}–${Math.max(...movedAt.values()) - stoppedAt} ms after its last heartbeat`,
    );
    // The renewal happened after the heartbeat was sent: a lease duration from then at the earliest, and
    // never before the promised expiry plus the skew bound.
    expect(earliest).toBeGreaterThanOrEqual(LEASE_MS);
    expect(Math.min(...movedAt.values())).toBeGreaterThan(promised + SKEW_MS);
    for (const id of watched.filter((id) => assigned.get(id) !== victim)) {
      const answer = await lookup(id);
      expect(answer.serverId).toBe(assigned.get(id));
      expect(answer.fencingToken).toBe(1);
    }
  }
}

describe("moves, release and the fence", () => {
  it("PUT freezes the lease and moves the session once it runs out, never holding the Api past 2 s; wait=false answers 409 at once", async () => {
    const id = `move-${run}`;
    const first = await lookup(id);
    const other = SERVERS.find((server) => server !== first.serverId)!;
    const refused = await call("PUT", `/sessions/${id}?wait=false`, { serverId: other });
    expect(refused).toMatchObject({
      status: 409,
      body: { error: { code: "LeaseHeld", serverId: first.serverId } },
    });
    expect(refused.body.error.retryAfterMs).toBeGreaterThan(0);
    expect(refused.body.error.retryAfterMs).toBeLessThanOrEqual(LEASE_MS + SKEW_MS + 1);
    // A client moves by asking again after retryAfterMs; each call waits at most 2 s in the Api.
    const started = Date.now();
    let moved = await call("PUT", `/sessions/${id}`, { serverId: other });
    let calls = 1;
    while (moved.status === 409 && moved.body.error.code === "LeaseHeld") {
      await new Promise((resolve) => setTimeout(resolve, moved.body.error.retryAfterMs));
      const asked = Date.now();
      moved = await call("PUT", `/sessions/${id}`, { serverId: other });
      calls++;
      // The Api's 2 s bound, plus the HTTP round trip on a loaded machine.
      expect(Date.now() - asked).toBeLessThan(2_000 + 3_000);
    }
    const waitedMs = Date.now() - started;
    expect(moved).toMatchObject({ status: 200, body: { sessionId: id, serverId: other, fencingToken: 2 } });
    console.log(
      `PUT /sessions/${id} moved after ${waitedMs} ms in ${calls} calls (lease ${LEASE_MS} ms, skew ${SKEW_MS} ms)`,
    );
    expect(calls).toBeGreaterThan(1);
    // The holder's heartbeats no longer renew a lease that is being moved: at most one lease plus skew.
    expect(waitedMs).toBeLessThanOrEqual(LEASE_MS + SKEW_MS + 3_000);
    expect(waitedMs).toBeGreaterThan(LEASE_MS / 2);
    expect((await lookup(id)).serverId).toBe(other);
  }, 120_000);

  it("DELETE releases at once, and the next holder gets a higher token without waiting", async () => {
    const id = `release-${run}`;
    const first = await lookup(id);
    const other = SERVERS.find((server) => server !== first.serverId)!;
    expect(
      (await call("DELETE", `/sessions/${id}/lease`, { serverId: other, fencingToken: first.fencingToken }))
        .status,
    ).toBe(409);
    const released = await call("DELETE", `/sessions/${id}/lease`, {
      serverId: first.serverId,
      fencingToken: first.fencingToken,
    });
    expect(released).toMatchObject({ status: 200, body: { released: true } });
    const moved = await call("PUT", `/sessions/${id}`, { serverId: other });
    expect(moved.body).toMatchObject({ serverId: other, fencingToken: first.fencingToken + 1 });
    expect(moved.body.waitedMs).toBeLessThan(500);
  });

  it("rejects a state write with a stale fencing token and leaves the state unchanged", async () => {
    const id = `fence-${run}`;
    const first = await lookup(id);
    const write = (serverId: string, fencingToken: number, state: unknown) =>
      call("PUT", `/sessions/${id}/state`, { serverId, fencingToken, state });
    expect((await write(first.serverId, first.fencingToken, { turn: 1 })).status).toBe(200);
    await call("DELETE", `/sessions/${id}/lease`, {
      serverId: first.serverId,
      fencingToken: first.fencingToken,
    });
    const other = SERVERS.find((server) => server !== first.serverId)!;
    const moved = (await call("PUT", `/sessions/${id}`, { serverId: other })).body;
    expect((await write(other, moved.fencingToken, { turn: 2 })).status).toBe(200);
    const stale = await write(first.serverId, first.fencingToken, { turn: 99 });
    expect(stale).toMatchObject({
      status: 409,
      body: { error: { code: "StaleFencingToken", fencingToken: moved.fencingToken } },
    });
    expect((await call("GET", `/sessions/${id}/state`)).body).toEqual({
      sessionId: id,
      state: { turn: 2 },
      fencingToken: moved.fencingToken,
    });
  });

  it("rejects bad input with 400", async () => {
    expect((await call("GET", "/sessions/bad%20id")).status).toBe(400);
    expect((await call("PUT", `/sessions/x-${run}`, {})).status).toBe(400);
    expect((await call("PUT", `/sessions/x-${run}?wait=maybe`, { serverId: SERVERS[0] })).status).toBe(400);
    expect(
      (await call("DELETE", `/sessions/x-${run}/lease`, { serverId: SERVERS[0], fencingToken: 0 })).status,
    ).toBe(400);
    expect(
      (await call("PUT", `/sessions/x-${run}/state`, { serverId: SERVERS[0], fencingToken: 1 })).status,
    ).toBe(400);
    expect((await call("POST", "/servers/bad%20id/heartbeat", {})).status).toBe(400);
    expect((await call("PUT", `/sessions/x-${run}`, { serverId: "nobody" })).body.error.code).toBe(
      "ServerNotLive",
    );
  });
});

describe("the client library", () => {
  it("caches a lookup while the lease lives, and drops it when a fencing rejection says the session moved", async () => {
    const client = new LookupClient({ endpoint: target.baseUrl, maxSkewMs: SKEW_MS, fetch: target.fetch });
    const id = `client-${run}`;
    const first = await client.lookup(id);
    for (let i = 0; i < 10; i++) expect(await client.lookup(id)).toEqual(first);
    expect(client.remoteLookups).toBe(1);
    await client.writeState(id, first.serverId, { n: 1 });
    // Another front end moves the session; this client's cache still names the old holder.
    await call("DELETE", `/sessions/${id}/lease`, {
      serverId: first.serverId,
      fencingToken: first.fencingToken,
    });
    const other = SERVERS.find((server) => server !== first.serverId)!;
    await call("PUT", `/sessions/${id}`, { serverId: other });
    const error = await client.writeState(id, first.serverId, { n: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LookupError);
    expect((error as LookupError).code).toBe("StaleFencingToken");
    expect(await client.lookup(id)).toMatchObject({ serverId: other, fencingToken: first.fencingToken + 1 });
    expect(client.remoteLookups).toBe(2);
  });
});

describe("the typed client: a server the client cannot reach but the service still sees live", () => {
  it("moves the session away, waiting out the old lease while the old server keeps heartbeating, then follows it", async () => {
    const client = new ApiClient({ endpoint: target.baseUrl, fetch: target.fetch, maxSkewMs: SKEW_MS });
    const id = `failover-${run}`;
    const first = await client.sessions.lookup(id);
    await client.sessions.writeState(id, first.serverId, { turn: 1 });
    const unreachable = first.serverId;
    const movingAt = Date.now();

    // The client cannot reach `unreachable`, yet the service lists it: it heartbeats throughout.
    expect((await client.servers.list()).servers.map((server) => server.serverId)).toContain(unreachable);
    const moved = await client.sessions.failover(id, unreachable);
    const movedAt = Date.now();

    expect(moved.serverId).not.toBe(unreachable);
    expect(moved.fencingToken).toBeGreaterThan(first.fencingToken);
    // The old lease was waited out, never cut short: the move completed after the lease the client saw.
    expect(movedAt).toBeGreaterThanOrEqual(first.leaseExpiresAt);
    expect(lastBeat.get(unreachable)!.sentAt).toBeGreaterThan(movingAt);
    expect((await client.servers.list()).servers.map((server) => server.serverId)).toContain(unreachable);
    // The old server's renewals no longer carry the session, and its token no longer writes.
    const beat = await client.servers.heartbeat(unreachable);
    expect(beat.leases.map((lease) => lease.sessionId)).not.toContain(id);
    const stale = await client
      .call("writeState", {
        params: { sessionId: id },
        body: { serverId: unreachable, fencingToken: first.fencingToken, state: { turn: 2 } },
      })
      .catch((error: unknown) => error);
    expect(stale).toBeInstanceOf(ApiError);
    expect(stale).toMatchObject({ code: "StaleFencingToken", outcome: "failed" });
    // The client follows the session: its cached lookup names the new server, which writes with its token.
    const remote = client.lookups.remoteLookups;
    expect(await client.sessions.lookup(id)).toMatchObject({ serverId: moved.serverId });
    expect(client.lookups.remoteLookups).toBe(remote);
    await client.sessions.writeState(id, moved.serverId, { turn: 2 });
    expect(await client.sessions.readState(id)).toEqual({
      sessionId: id,
      state: { turn: 2 },
      fencingToken: moved.fencingToken,
    });
  });
});
