/**
 * `npm run bench -- load`: mixed load, 32 clients for 60 s (scaled by --scale), through the typed client:
 * session lookups, Paxos sets, primary and all KV writes and KV reads over a few hundred keys, with three
 * servers heartbeating. On `npm start` as a user runs it (a child process, --in-memory), twice: the first
 * minute, its clock starting when npm start prints "ready", and the same load right after it (the engines
 * and the environments have run a minute by then: as any later minute). Against the floor measured in the
 * same run: GET /health from 32 clients.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ApiClient, signedFetch } from "@serverless-coordination/client";
import { freePort, LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { fromRoot } from "../infra/paths.ts";
import { latencyChart } from "./chart.ts";
import { environmentLine, percentile, ratio, table, writeReport, writeSvg } from "./lib.ts";
import { type LoadSettings, MIX, type Sample } from "./load-clients.ts";

const CLIENTS = 32;
/** What the issue measured before (22–32 requests/s, p50 about 1 s) and asks for: 3× at half the p50. */
const BEFORE = { throughput: 32, p50Ms: 1000 };
/** The first minute's target: its p99 at most this many times the later minute's, and no 503. */
const FIRST_MINUTE_P99 = 1.5;

const dash = (value: number) => (Number.isFinite(value) ? value : "—");

/** `npm start -- --in-memory --quiet` on free ports, and when it printed "ready". */
async function startLocalCloud() {
  const ports = {
    http: await freePort(),
    lambda: await freePort(),
    ddb: await freePort(),
    sqs: await freePort(),
  };
  const child = spawn(
    process.execPath,
    [
      "--conditions=serverless-coordination:source",
      "packages/local-cloud/src/bin.ts",
      "--in-memory",
      "--quiet",
      ...["--port", String(ports.http), "--lambda-port", String(ports.lambda)],
      ...["--dynamodb-port", String(ports.ddb), "--sqs-port", String(ports.sqs)],
    ],
    { cwd: fromRoot("."), stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const marks: { ready?: number } = {};
  child.stdout.on("data", (chunk) => {
    output += chunk;
    if (!marks.ready && output.includes("\nready in ")) marks.ready = performance.now();
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const until = async (what: () => boolean, timeoutMs: number, name: string) => {
    const deadline = performance.now() + timeoutMs;
    while (!what()) {
      if (child.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
      if (performance.now() > deadline) throw new Error(`no ${name} in ${timeoutMs / 1000} s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return {
    apiUrl: `http://127.0.0.1:${ports.http}`,
    marks,
    output: () => output,
    ready: () => until(() => marks.ready !== undefined, 180_000, '"ready"'),
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function benchLoad(scale = 1) {
  const seconds = Math.max(5, Math.round(60 * scale));
  const run = Date.now().toString(36);
  console.log(`load: ${CLIENTS} clients for ${seconds} s from "ready", then the floor, then again`);
  const cloud = await startLocalCloud();
  const settings = { apiUrl: cloud.apiUrl, accessKeyId: "local", clients: CLIENTS, run };
  const fetch = signedFetch({ region: LOCAL_REGION, credentials: localCredentials("local") });
  const client = new ApiClient({ endpoint: cloud.apiUrl, maxAttempts: 1, fetch });
  const servers = ["a", "b", "c"].map((name) => `load-${run}-${name}`);
  let beating: ReturnType<typeof setInterval> | undefined;
  try {
    // The first minute's clients are up before "ready" and start on it.
    const first = clientsProcess({ ...settings, phase: "mixed", seconds, waitForGo: true });
    await cloud.ready();
    await Promise.all(servers.map((server) => client.servers.heartbeat(server)));
    beating = setInterval(
      () => void Promise.all(servers.map((server) => client.servers.heartbeat(server))).catch(() => {}),
      2_000,
    );
    first.go();
    const firstMinute = await first.result;
    const untilFirstRequests = Math.round(first.wentAt! - cloud.marks.ready!);
    const floor = await clientsProcess({
      ...settings,
      phase: "floor",
      seconds: Math.max(3, Math.round(seconds / 6)),
    }).result;
    const mixed = await clientsProcess({ ...settings, phase: "mixed", seconds }).result;

    const summary = (samples: Sample[], elapsedMs: number, name: string) => {
      const ok = samples.filter((s) => s.outcome === "ok").map((s) => s.ms);
      const sorted = [...ok].sort((a, b) => a - b);
      return {
        name,
        requests: samples.length,
        unknown: samples.filter((s) => s.outcome === "unknown").length,
        failed: samples.filter((s) => s.outcome === "failed").length,
        throughput: Math.round((ok.length / elapsedMs) * 10_000) / 10,
        // No answered request, no latency (shown as "—").
        p50Ms: sorted.length ? Number(percentile(sorted, 50).toPrecision(3)) : Number.NaN,
        p99Ms: sorted.length ? Number(percentile(sorted, 99).toPrecision(3)) : Number.NaN,
        codes: codeCounts(samples),
      };
    };
    const floorRow = summary(floor.samples, floor.elapsedMs, "floor: GET /health");
    const mixRow = summary(mixed.samples, mixed.elapsedMs, "mixed load (all kinds)");
    const kinds = MIX.map((entry) =>
      summary(
        mixed.samples.filter((s) => s.kind === entry.kind),
        mixed.elapsedMs,
        entry.kind,
      ),
    );
    const firstRow = summary(
      firstMinute.samples,
      firstMinute.elapsedMs,
      'first minute after "ready" (all kinds)',
    );
    const rows = [floorRow, firstRow, mixRow, ...kinds];
    const firstP99 = ratio(firstRow.p99Ms, mixRow.p99Ms);
    const firstMet = firstP99 <= FIRST_MINUTE_P99 && firstRow.unknown === 0;
    const startLines = cloud
      .output()
      .split("\n")
      .filter((line) => /^\[[\d.]+s\] warming/.test(line) || line.startsWith("ready in"));
    // The first minute in sixths: where its slow requests were.
    const sixth = (seconds * 1000) / 6;
    const windows = Array.from({ length: 6 }, (_, w) => {
      const ok = firstMinute.samples
        .filter((s) => s.outcome === "ok" && s.at >= w * sixth && s.at < (w + 1) * sixth)
        .map((s) => s.ms)
        .sort((a, b) => a - b);
      return `${Math.round((w * sixth) / 1000)}–${Math.round(((w + 1) * sixth) / 1000)} s: ${ok.length ? Math.round(percentile(ok, 99)) : "—"} ms`;
    });
    const chart = writeSvg(
      "load-latency",
      latencyChart(
        `Mixed load, ${CLIENTS} clients: latency per kind (ms, log scale)`,
        ["p50", "p99"],
        rows
          .filter((row) => Number.isFinite(row.p50Ms))
          .map((row) => ({ name: row.name, values: [row.p50Ms, row.p99Ms] })),
      ),
    );
    const throughputMet = mixRow.throughput >= 3 * BEFORE.throughput;
    const p50Met = mixRow.p50Ms <= BEFORE.p50Ms / 2;
    const markdown = `## Load (\`npm run bench -- load\`)

${environmentLine()}; \`npm start -- --in-memory --quiet\` in a child process, as a user runs it;
${CLIENTS} clients for ${seconds} s each phase, through the typed client without retries, in a process of
their own (as a user's clients are; in the local cloud's process they would take its main thread's time);
three servers heartbeating every 2 s; keys drawn from 256. The first minute's clients start ${untilFirstRequests} ms after
npm start printed "ready" (the three servers' first heartbeats come first); the floor and the mixed load
follow it on the same local cloud (a later minute).

${table(
  [
    "case",
    "requests",
    "unknown (503, no answer)",
    "failed (4xx)",
    "answered/s",
    "p50 ms",
    "p99 ms",
    "p50 / floor p50",
  ],
  rows.map((row) => [
    row.name,
    row.requests,
    row.unknown,
    row.failed,
    row.throughput,
    dash(row.p50Ms),
    dash(row.p99Ms),
    dash(ratio(row.p50Ms, floorRow.p50Ms)),
  ]),
)}

![Mixed load latency per kind](${chart.replace(/^docs\//, "")})

- The first minute: p99 ${firstRow.p99Ms} ms, ${firstP99}× the later minute's ${mixRow.p99Ms} ms, ${firstRow.unknown} unknown${
      firstRow.unknown
        ? ` (${Object.entries(firstRow.codes)
            .map(([code, n]) => `${n} × ${code}`)
            .join(", ")})`
        : ""
    } (target ≤ ${FIRST_MINUTE_P99}× and no 503, ${firstMet ? "met" : "missed"}). Its p99 by sixths: ${windows.join(", ")}. What npm start said: ${startLines.map((line) => `"${line.trim()}"`).join("; ") || "nothing"}.
- Throughput: ${mixRow.throughput} answered/s against ${BEFORE.throughput}/s before (target ≥ 3×, ${throughputMet ? "met" : "missed"}).
- p50: ${mixRow.p50Ms} ms against about ${BEFORE.p50Ms} ms before (target ≤ half, ${p50Met ? "met" : "missed"}).
- The floor (GET /health from the same ${CLIENTS} clients) is what the HTTP API and the Api function's
  environments sustain on this machine; every other kind adds replica invokes (Paxos: a quorum round or
  two; KV: the primary's transaction, and for \`all\` the other replicas) or DynamoDB reads (lookups).`;
    writeReport(
      "load",
      { environment: environmentLine(), clients: CLIENTS, seconds, results: rows },
      markdown,
    );
  } finally {
    clearInterval(beating);
    await cloud.stop();
  }
}

/** How many samples answered each error code. */
function codeCounts(samples: Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sample of samples) if (sample.code) counts[sample.code] = (counts[sample.code] ?? 0) + 1;
  return counts;
}

/**
 * Runs the clients in a Node.js process of their own and collects their samples; with `waitForGo` they
 * start on `go()`.
 */
function clientsProcess(settings: LoadSettings) {
  const script = fileURLToPath(new URL("./load-clients.ts", import.meta.url));
  let child!: ChildProcess;
  const handle = {
    wentAt: undefined as number | undefined,
    go() {
      handle.wentAt = performance.now();
      child.stdin!.write("go\n");
    },
    result: new Promise<{ samples: Sample[]; elapsedMs: number }>((resolve, reject) => {
      child = execFile(
        process.execPath,
        [script, JSON.stringify(settings)],
        { maxBuffer: 256 * 1024 * 1024 },
        (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout))),
      );
    }),
  };
  return handle;
}
