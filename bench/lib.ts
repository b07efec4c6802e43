/**
 * Benchmark support: a fresh local cloud per run (in-memory DynamoDB Local, its own SQS emulator),
 * latency sampling, and the report writer. Every suite measures its own baseline in the same run and
 * reports ratios against it, so numbers from different machines compare by ratio, not by milliseconds.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { signedFetch } from "@serverless-coordination/client";
import type { MetricTotal } from "@serverless-coordination/local-cloud";
import {
  freePort,
  LOCAL_REGION,
  type LocalCloud,
  localCredentials,
  startEngines,
  startLocalCloud,
} from "@serverless-coordination/local-cloud";
import { synthesizeStack } from "@serverless-coordination/local-cloud/synthesize";
import { buildApp } from "../infra/app.ts";
import { fromRoot } from "../infra/paths.ts";

export interface BenchCloud extends LocalCloud {
  /** The engines the cloud runs on: a second stack (a baseline) can run beside it on the same ones. */
  engines: Awaited<ReturnType<typeof startEngines>>;
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  lambda: LambdaClient;
  /** fetch that signs requests (SigV4) with the local credentials, as the API requires. */
  fetch: typeof fetch;
  functionName(constructId: string): string;
  tableName(constructId: string): string;
  queueUrl(constructId: string): string;
}

/** The project's stack on a local cloud of its own; `context` sets CDK context (e.g. short leases). */
export async function startBenchCloud(
  context: Record<string, unknown> = {},
  /** Where the cloud reaches the engines instead of their own endpoints (the cost suite's meters). */
  reach?: (engines: Awaited<ReturnType<typeof startEngines>>) => Promise<{
    dynamodbEndpoint: string;
    sqsEndpoint: string;
  }>,
): Promise<BenchCloud> {
  const engines = await startEngines({ dynamodbPort: await freePort(), sqsPort: await freePort() });
  const stack = synthesizeStack((app) => {
    for (const [key, value] of Object.entries(context)) app.node.setContext(key, value);
    return buildApp(app).stack;
  }, fromRoot(".local/bench-assembly"));
  const cloud = await startLocalCloud({
    stack,
    engines: reach ? await reach(engines) : engines,
    httpPort: await freePort(),
    lambdaPort: await freePort(),
    log: (line) => console.error(`[local] ${line}`),
    functionLog: process.env.BENCH_LOGS ? (fn, line) => console.error(`[${fn}] ${line}`) : undefined,
  });
  // Every environment each function may run, started before anything is measured, as provisioned
  // concurrency would: the suites measure the stack at work, not cold starts under load (the start-up
  // suite measures those). One function at a time, so that the cold starts do not outlast Lambda's
  // init limit on this machine's cores.
  for (const fn of cloud.functions)
    if (!(await fn.prewarm(fn.concurrency)))
      console.error(`[bench] ${fn.id}: an environment did not load within Lambda's init limit`);
  const config = { region: LOCAL_REGION, credentials: localCredentials(cloud.accessKeyId) };
  const documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...config, endpoint: cloud.dynamodbEndpoint }),
  );
  const sqs = new SQSClient({ ...config, endpoint: cloud.sqsEndpoint });
  const lambda = new LambdaClient({ ...config, endpoint: cloud.lambdaEndpoint, maxAttempts: 1 });
  return {
    ...cloud,
    engines,
    documents,
    sqs,
    lambda,
    fetch: signedFetch(config),
    functionName: (id) => cloud.byConstruct(cloud.functions, id).name,
    tableName: (id) => cloud.byConstruct(cloud.tables, id).name,
    queueUrl: (id) => cloud.byConstruct(cloud.queues, id).url,
    async stop() {
      documents.destroy();
      sqs.destroy();
      lambda.destroy();
      await cloud.stop();
      await engines.stop();
    },
  };
}

export interface Stats {
  name: string;
  count: number;
  concurrency: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Operations that failed with an error the case tolerates (e.g. 503 Contention); not in the latencies. */
  errors: number;
  /** Completed operations per second over the wall-clock time of the measurement. */
  throughput: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(
  name: string,
  samples: number[],
  concurrency: number,
  wallMs: number,
  errors = 0,
): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  // Three significant digits: microseconds (a cache hit) and seconds alike.
  const round = (n: number) => (Number.isFinite(n) ? Number(n.toPrecision(3)) : n);
  return {
    name,
    count: samples.length,
    concurrency,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    meanMs: round(samples.reduce((sum, s) => sum + s, 0) / Math.max(1, samples.length)),
    throughput: round((samples.length / wallMs) * 1000),
    errors,
  };
}

/**
 * Runs `operation(i)` `count` times from `concurrency` loops (after `warmup` unmeasured calls) and
 * summarizes the latencies. An operation that throws fails the benchmark (a benchmark of errors measures
 * nothing) unless `tolerate` accepts the error: then it is counted, and its latency left out.
 */
export async function measure(
  name: string,
  operation: (index: number, worker: number) => Promise<unknown>,
  options: {
    count: number;
    concurrency?: number;
    warmup?: number;
    tolerate?: (error: unknown) => boolean;
  },
): Promise<Stats> {
  const concurrency = options.concurrency ?? 1;
  // Warm-up calls start execution environments (cold starts may time out): their errors do not count.
  for (let i = 0; i < (options.warmup ?? 0); i++) await operation(-1 - i, 0).catch(() => {});
  const samples: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < options.count) {
        const index = next++;
        const t0 = performance.now();
        try {
          await operation(index, worker);
          samples.push(performance.now() - t0);
        } catch (error) {
          if (!options.tolerate?.(error)) throw error;
          errors++;
        }
      }
    }),
  );
  const stats = summarize(name, samples, concurrency, performance.now() - started, errors);
  console.log(
    `  ${name}: p50 ${stats.p50Ms} ms, p99 ${stats.p99Ms} ms, ${stats.throughput}/s (n=${stats.count}, c=${concurrency}, errors ${errors})`,
  );
  return stats;
}

/** An HTTP answer other than the expected status, with its error code. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(status: number, code: string | undefined, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function expectStatus(response: Response, status: number, what: string): Promise<unknown> {
  const text = await response.text();
  if (response.status !== status) {
    let code: string | undefined;
    try {
      code = JSON.parse(text).error?.code;
    } catch {}
    throw new HttpError(response.status, code, `${what}: ${response.status} ${text}`);
  }
  return text ? JSON.parse(text) : undefined;
}

export const ratio = (value: number, baseline: number) => Number((value / baseline).toPrecision(3));

/** A measured case's first columns in the suites' tables: name, n, concurrency, p50, p99, ops/s. */
export function statsCells(s: Stats): Array<string | number> {
  return [s.name, s.count, s.concurrency, s.p50Ms, s.p99Ms, s.throughput];
}

export function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export function environmentLine(): string {
  const cores = cpus();
  return `Node ${process.version}, ${cores.length} × ${cores[0]?.model ?? "cpu"}, ${new Date().toISOString().slice(0, 10)}`;
}

/**
 * Writes `docs/bench/<suite>.json` and replaces the suite's section of docs/benchmarks.md (between its
 * markers), leaving the other suites' sections as they were.
 */
let scaledRun = false;
/** A run with --scale other than 1 is a quick look: its report goes to .local/bench/, not over the docs. */
export function markScaledRun() {
  scaledRun = true;
}

/** Writes a chart next to the report: docs/bench/<name>.svg (.local/bench/ for a scaled run). */
export function writeSvg(name: string, svg: string): string {
  const relative = `${scaledRun ? ".local/bench" : "docs/bench"}/${name}.svg`;
  const path = fromRoot(relative);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, svg);
  return relative;
}

export function writeReport(suite: string, data: unknown, markdown: string) {
  if (scaledRun) {
    const dir = fromRoot(".local/bench");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${suite}.json`), `${JSON.stringify(data, null, 2)}\n`);
    writeFileSync(join(dir, `${suite}.md`), `${markdown.trim()}\n`);
    console.log(
      `${markdown.trim()}\n\n(a scaled run: wrote .local/bench/${suite}.md and .json; docs/ left as they were)`,
    );
    return;
  }
  const jsonPath = fromRoot(`docs/bench/${suite}.json`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(data, null, 2)}\n`);
  const docPath = fromRoot("docs/benchmarks.md");
  let doc: string;
  try {
    doc = readFileSync(docPath, "utf8");
  } catch {
    doc =
      "# Benchmarks\n\nWritten by `npm run bench` (`npm run bench -- <suite>` for one suite). Each suite runs the " +
      "stack on a fresh local cloud and measures its own baseline in the same run; compare the ratios, the " +
      "milliseconds depend on the machine. Raw numbers: `docs/bench/<suite>.json`.\n";
  }
  const begin = `<!-- bench:${suite}:begin -->`;
  const end = `<!-- bench:${suite}:end -->`;
  const section = `${begin}\n${markdown.trim()}\n${end}`;
  const start = doc.indexOf(begin);
  const stop = doc.indexOf(end);
  doc =
    start >= 0 && stop > start
      ? doc.slice(0, start) + section + doc.slice(stop + end.length)
      : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(docPath, doc);
  console.log(`wrote docs/bench/${suite}.json and the ${suite} section of docs/benchmarks.md`);
}

/** The functions' metrics so far (the local cloud's EMF totals). */
export async function metricTotals(cloud: BenchCloud): Promise<MetricTotal[]> {
  const response = await fetch(`${cloud.lambdaEndpoint}/_local/metrics`);
  return ((await response.json()) as { metrics: MetricTotal[] }).metrics;
}

/** The mean of a metric's values emitted between two `metricTotals` (NaN when none was). */
export function metricMean(before: MetricTotal[], after: MetricTotal[], name: string): number {
  const total = (totals: MetricTotal[]) =>
    totals
      .filter((metric) => metric.name === name)
      .reduce((sum, metric) => ({ sum: sum.sum + metric.sum, count: sum.count + metric.count }), {
        sum: 0,
        count: 0,
      });
  const count = total(after).count - total(before).count;
  return count > 0 ? Number(((total(after).sum - total(before).sum) / count).toPrecision(3)) : Number.NaN;
}
