/**
 * `npm run bench -- lookup`: lookup latency uncached (through the API) and cached (the client library),
 * and the throughput of assigning new sessions, against the HTTP API's own floor measured in the run.
 */
import { LookupClient } from "@serverless-coordination/client";
import { METRIC } from "@serverless-coordination/core/aws";
import {
  type BenchCloud,
  environmentLine,
  expectStatus,
  measure,
  metricMean,
  metricTotals,
  ratio,
  statsCells,
  table,
  writeReport,
} from "./lib.ts";

export async function benchLookup(cloud: BenchCloud, scale: number) {
  const n = (count: number) => Math.max(10, Math.round(count * scale));
  const run = Date.now().toString(36);
  const servers = ["a", "b", "c"].map((name) => `bench-${run}-${name}`);
  const heartbeat = () =>
    Promise.all(
      servers.map(async (server) =>
        expectStatus(
          await cloud.fetch(`${cloud.apiUrl}/servers/${server}/heartbeat`, { method: "POST", body: "{}" }),
          200,
          "heartbeat",
        ),
      ),
    );
  await heartbeat();
  const beating = setInterval(() => void heartbeat().catch(() => {}), 2_000);
  const get = async (path: string) =>
    expectStatus(await cloud.fetch(`${cloud.apiUrl}${path}`), 200, `GET ${path}`);
  console.log("lookup");
  try {
    const floor = await measure("baseline: GET /health (HTTP API + Api function)", () => get("/health"), {
      count: n(400),
      warmup: 20,
    });
    // A route that does exactly one DynamoDB read (a GetItem of the key's change counter): what one read
    // through the HTTP API and the Api function costs, the baseline of the uncached lookup's target.
    const oneRead = await measure(
      "one GetItem route (GET /kv/{key}/changes)",
      (i) => get(`/kv/bench-${run}-${i % 50}/changes`),
      { count: n(400), warmup: 20 },
    );
    const sessions = Array.from({ length: n(300) }, (_, i) => `s-${run}-${i}`);
    const assign = await measure(
      "assign new sessions (GET, first lookup), 8 clients",
      (i) => get(`/sessions/new-${run}-${i}`),
      {
        count: n(600),
        concurrency: 8,
        warmup: 8,
      },
    );
    for (const id of sessions) await get(`/sessions/${id}`);
    const readsBefore = await metricTotals(cloud);
    const uncached = await measure(
      "lookup, uncached (GET /sessions/{id})",
      (i) => get(`/sessions/${sessions[i % sessions.length]}`),
      {
        count: n(400),
        warmup: 10,
      },
    );
    // The DynamoDB requests each of those lookups' reads took (the Api's LeaseReadRequests metric).
    const readsPerLookup = metricMean(readsBefore, await metricTotals(cloud), METRIC.leaseReadRequests);
    const repeat = await measure(
      "lookup of assigned sessions, 8 clients",
      (i) => get(`/sessions/${sessions[i % sessions.length]}`),
      { count: n(600), concurrency: 8 },
    );
    const client = new LookupClient({ endpoint: cloud.apiUrl, maxSkewMs: 1_000, fetch: cloud.fetch });
    for (const id of sessions) await client.lookup(id);
    const before = client.remoteLookups;
    const cached = await measure(
      "lookup, cached (client library)",
      (i) => client.lookup(sessions[i % sessions.length]!),
      {
        count: n(4000),
      },
    );
    const remote = client.remoteLookups - before;

    // Four moves that wait (the sessions' leases live 10 s), while GET /health is measured: first as a
    // curl user sends them (each waits inside the Api up to MOVE_WAIT_MS, 2 s, then answers 409 LeaseHeld
    // and is sent again), then as the typed client does (wait=false: 409 LeaseHeld at once, and the
    // client waits out retryAfterMs itself).
    const healthWhileMoving = async (name: string, ids: string[], clientSide: boolean) => {
      const targets = await Promise.all(
        ids.map(async (id) => {
          const { serverId } = (await get(`/sessions/${id}`)) as { serverId: string };
          return servers.find((server) => server !== serverId)!;
        }),
      );
      let stop = false;
      const movers = ids.map(async (id, k) => {
        while (!stop) {
          const response = await cloud.fetch(
            `${cloud.apiUrl}/sessions/${id}${clientSide ? "?wait=false" : ""}`,
            { method: "PUT", body: JSON.stringify({ serverId: targets[k] }) },
          );
          const body = (await response.json()) as { error?: { retryAfterMs?: number } };
          if (response.status === 200) return;
          if (clientSide) await sleepFor(Math.min(body.error?.retryAfterMs ?? 100, 500), () => stop);
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const stats = await measure(name, () => get("/health"), { count: n(100) }).finally(() => {
        stop = true;
      });
      await Promise.all(movers);
      return stats;
    };
    const duringMoves = await healthWhileMoving(
      "GET /health while 4 moves wait in the Api (wait=true, up to 2 s each)",
      sessions.slice(0, 4),
      false,
    );
    const duringClientMoves = await healthWhileMoving(
      "GET /health while 4 moves wait in the client (wait=false, the typed client's way)",
      sessions.slice(4, 8),
      true,
    );

    const markdown = `## Lookup (\`npm run bench -- lookup\`)

${environmentLine()}; 3 servers heartbeating; lease 10 s, skew bound 1 s.

${table(
  ["case", "n", "clients", "p50 ms", "p99 ms", "ops/s", "p50 / baseline p50"],
  [floor, oneRead, uncached, cached, assign, repeat, duringMoves, duringClientMoves].map((s) => [
    ...statsCells(s),
    ratio(s.p50Ms, floor.p50Ms),
  ]),
)}

- Uncached lookup: ${ratio(uncached.p50Ms, oneRead.p50Ms)}× the one-GetItem route at p50 (target ≤ 1.5×,
  ${ratio(uncached.p50Ms, oneRead.p50Ms) <= 1.5 ? "met" : "missed"}), with a mean of ${readsPerLookup} DynamoDB requests per lookup (target: one round trip,
  ${readsPerLookup <= 1.05 ? "met" : "missed"}; the Api's \`${METRIC.leaseReadRequests}\` metric over the run). A lookup of an assigned session reads
  the lease and its holder's registration together in one transactional read (TransactGetItems, so the
  two are as of one moment). The Api instance guesses the holder: the one it last saw for the session,
  else the rendezvous choice among the servers it saw live lately (in heartbeats and assignments); a
  wrong or missing guess costs one more read (the lease first, or the actual holder's pair).
- Cached vs uncached lookup: ${ratio(uncached.p50Ms, Math.max(cached.p50Ms, 0.001))}× faster at p50; the client library went to the
  service ${remote} times for ${cached.count} cached lookups (each entry lives until the lease's expiry minus the skew bound).
- Assigning new sessions: ${assign.throughput}/s with 8 clients, ${ratio(assign.throughput, repeat.throughput)}× the throughput of looking up
  assigned ones. An assignment reads the lease and the live servers and commits a transaction (the
  lease with its fencing token, and a check that the chosen server is live); a lookup of an assigned
  session reads the lease and its server's registration together.
- GET /health while four moves wait: when each waits inside the Api (\`wait=true\`), p50 ${duringMoves.p50Ms} ms and
  p99 ${duringMoves.p99Ms} ms: four waiting moves hold the local cloud's 4 Api environments (\`--concurrency\`)
  for up to \`MOVE_WAIT_MS\` (2 s) each, then answer 409 \`LeaseHeld\` with \`retryAfterMs\`, so a move never
  holds one for a whole lease. When the client waits (\`wait=false\`, what the typed client's
  \`sessions.move\` sends), p50 ${duringClientMoves.p50Ms} ms and p99 ${duringClientMoves.p99Ms} ms (${ratio(duringClientMoves.p99Ms, floor.p99Ms)}× the idle p99): the
  service freezes the lease and answers at once. On AWS the Api's reserved concurrency is 20
  (\`apiConcurrency\`).`;
    writeReport(
      "lookup",
      {
        environment: environmentLine(),
        results: [floor, oneRead, uncached, cached, assign, repeat, duringMoves, duringClientMoves],
        cachedRemoteCalls: remote,
        readsPerLookup,
      },
      markdown,
    );
  } finally {
    clearInterval(beating);
  }
}

/** Sleeps `ms`, waking early once `stop()` holds (checked every 50 ms). */
async function sleepFor(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && !stop()) await new Promise((resolve) => setTimeout(resolve, 50));
}
