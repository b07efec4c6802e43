/**
 * `npm run bench -- paxos`: what a consensus write costs against one conditional write.
 *   direct: one conditional UpdateItem from Node, no Lambda (the floor of the floor)
 *   (a) baseline: one Invoke of one replica doing one conditional write (a prepare on a fresh key)
 *   (b) warm single-writer PUT: the proposer holds the latest ballot, one round trip (accept only)
 *   (c) cold PUT: a key the proposer has never seen, two round trips (prepare + accept)
 *   (d) 8 writers contending on one key
 *   (e) 16 writers on 16 keys
 *   (f) 8 writers on 4 shared keys, and (g) the same with one replica down (every invocation fails)
 */
import { cpus } from "node:os";
import { InvokeCommand } from "@aws-sdk/client-lambda";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { METRIC } from "@serverless-coordination/core/aws";
import { encodeBallot, paxosItemKey } from "@serverless-coordination/core/paxos";
import { latencyChart } from "./chart.ts";
import {
  type BenchCloud,
  environmentLine,
  expectStatus,
  HttpError,
  measure,
  metricMean,
  metricTotals,
  ratio,
  type Stats,
  statsCells,
  table,
  writeReport,
  writeSvg,
} from "./lib.ts";

/**
 * The targets (docs/benchmarks.md says met or missed for each): warm and cold PUT against the baseline;
 * the baseline against a direct write; contention (d) against the warm p50 and (b)'s throughput; 16
 * writers on 16 keys (e) against the warm p50.
 */
const TARGETS = {
  warm: 1.5,
  cold: 2.5,
  invoke: 2,
  contendedP99: 20,
  contendedThroughput: 0.5,
  spreadP50: 3,
  /** (g): the share of writes answered with any 503 while one replica of three is down. */
  oneDown503: 0.001,
};

async function put(cloud: BenchCloud, key: string, value: unknown) {
  const response = await cloud.fetch(`${cloud.apiUrl}/paxos/${key}`, {
    method: "PUT",
    body: JSON.stringify({ value }),
  });
  await expectStatus(response, 200, `PUT /paxos/${key}`);
}

/** Under contention a write may give up with 503 (Contention, or OutcomeUnknown); the case counts those. */
const contention = (error: unknown) => error instanceof HttpError && error.status === 503;

export async function benchPaxos(cloud: BenchCloud, scale: number) {
  const n = (count: number) => Math.max(10, Math.round(count * scale));
  const replica = cloud.functionName("Replica1");
  const run = Date.now().toString(36);
  console.log("paxos");

  const table1 = cloud.tableName("Replica1Table");
  const ballot = encodeBallot({ counter: 1, proposerId: "bench" });
  const direct = await measure(
    "direct: one conditional UpdateItem from Node (no Lambda)",
    async (i) => {
      // The acceptor's prepare, sent by this process itself.
      await cloud.documents.send(
        new UpdateCommand({
          TableName: table1,
          Key: paxosItemKey(`direct-${run}-${i}`),
          UpdateExpression: "SET promised = :ballot",
          ConditionExpression: "attribute_not_exists(promised) OR promised < :ballot",
          ExpressionAttributeValues: { ":ballot": ballot },
        }),
      );
    },
    { count: n(400), warmup: 20 },
  );
  const baseline = await measure(
    "(a) baseline: one replica Invoke, one conditional write",
    async (i) => {
      const response = await cloud.lambda.send(
        new InvokeCommand({
          FunctionName: replica,
          Payload: Buffer.from(
            JSON.stringify({
              op: "prepare",
              key: `base-${run}-${i}`,
              ballot: encodeBallot({ counter: 1, proposerId: "bench" }),
            }),
          ),
        }),
      );
      if (response.FunctionError) throw new Error(Buffer.from(response.Payload!).toString());
    },
    { count: n(400), warmup: 20 },
  );
  const replicas = ["Replica1", "Replica2", "Replica3"].map((id) => cloud.functionName(id));
  const floor = await measure(
    "quorum floor: that Invoke to 3 replicas in parallel, until 2 answered",
    (i) =>
      new Promise<void>((resolve, reject) => {
        let answered = 0;
        for (const name of replicas) {
          cloud.lambda
            .send(
              new InvokeCommand({
                FunctionName: name,
                Payload: Buffer.from(
                  JSON.stringify({
                    op: "prepare",
                    key: `floor-${run}-${i}`,
                    ballot: encodeBallot({ counter: 1, proposerId: "bench" }),
                  }),
                ),
              }),
            )
            .then(() => {
              if (++answered === 2) resolve();
            }, reject);
        }
      }),
    { count: n(400), warmup: 20 },
  );
  const quorumAt = (concurrency: number) =>
    measure(
      `quorum floor, ${concurrency} at once`,
      (i) =>
        new Promise<void>((resolve, reject) => {
          let answered = 0;
          for (const name of replicas)
            cloud.lambda
              .send(
                new InvokeCommand({
                  FunctionName: name,
                  Payload: Buffer.from(
                    JSON.stringify({ op: "prepare", key: `floor${concurrency}-${run}-${i}`, ballot }),
                  ),
                }),
              )
              .then(() => {
                if (++answered === 2) resolve();
              }, reject);
        }),
      { count: n(480), concurrency },
    );
  const floor16 = await quorumAt(16);
  const hop = await measure(
    "HTTP API + Api function, no replica (GET /health)",
    async () => {
      const response = await cloud.fetch(`${cloud.apiUrl}/health`);
      await response.text();
      if (response.status !== 200) throw new Error(`GET /health: ${response.status}`);
    },
    { count: n(400), warmup: 20 },
  );
  /** The PUT cases' round trips to a majority per change (the Api's PaxosRoundTrips metric). */
  const roundTrips = new Map<Stats, number>();
  const counted = async (measured: () => Promise<Stats>) => {
    const before = await metricTotals(cloud);
    const stats = await measured();
    roundTrips.set(stats, metricMean(before, await metricTotals(cloud), METRIC.paxosRoundTrips));
    return stats;
  };
  const warmKey = `warm-${run}`;
  const warm = await counted(() =>
    measure("(b) warm single-writer PUT", (i) => put(cloud, warmKey, i), { count: n(400), warmup: 20 }),
  );
  const cold = await counted(() =>
    measure("(c) cold PUT (new key each time)", (i) => put(cloud, `cold-${run}-${i}`, i), {
      count: n(300),
      warmup: 5,
    }),
  );
  const contendedKey = `hot-${run}`;
  const contended = await counted(() =>
    measure("(d) 8 writers, one key", (i) => put(cloud, contendedKey, i), {
      count: n(240),
      concurrency: 8,
      tolerate: contention,
    }),
  );
  const spread = await counted(() =>
    measure("(e) 16 writers, 16 keys", (i, worker) => put(cloud, `spread-${run}-${worker}`, i), {
      count: n(480),
      concurrency: 16,
      tolerate: contention,
    }),
  );

  // Shared keys with one replica down: a rejection from a live replica beside the dead one's error is
  // contention, and must not be reported as a lost quorum. Same load without the fault first.
  const shared = (label: string, prefix: string) =>
    counted(() =>
      measure(label, (i, worker) => put(cloud, `${prefix}-${run}-${worker % 4}`, i), {
        count: n(3000),
        concurrency: 8,
        tolerate: contention,
      }),
    );
  const sharedKeys = await shared("(f) 8 writers, 4 shared keys", "shared");
  const down = cloud.byConstruct(cloud.functions, "Replica3");
  down.setFault("error");
  let oneDown: Stats;
  try {
    oneDown = await shared("(g) 8 writers, 4 shared keys, Replica3 down", "down");
  } finally {
    down.setFault("none");
  }

  const rows: Array<[Stats, string]> = [
    [direct, String(ratio(direct.p50Ms, baseline.p50Ms))],
    [baseline, `1.00 (target ≤ ${TARGETS.invoke}× direct: ${ratio(baseline.p50Ms, direct.p50Ms)}×)`],
    [floor, String(ratio(floor.p50Ms, baseline.p50Ms))],
    [hop, String(ratio(hop.p50Ms, baseline.p50Ms))],
    [warm, `${ratio(warm.p50Ms, baseline.p50Ms)} (target ≤ ${TARGETS.warm})`],
    [cold, `${ratio(cold.p50Ms, baseline.p50Ms)} (target ≤ ${TARGETS.cold})`],
    [contended, String(ratio(contended.p50Ms, baseline.p50Ms))],
    [floor16, String(ratio(floor16.p50Ms, baseline.p50Ms))],
    [spread, String(ratio(spread.p50Ms, baseline.p50Ms))],
    [sharedKeys, String(ratio(sharedKeys.p50Ms, baseline.p50Ms))],
    [oneDown, String(ratio(oneDown.p50Ms, baseline.p50Ms))],
  ];
  const share503 = (s: Stats) => s.errors / (s.count + s.errors);
  const oneDownShare = share503(oneDown);
  const warmRatio = ratio(warm.p50Ms, baseline.p50Ms);
  const floorRatio = ratio(floor.p50Ms, baseline.p50Ms);
  const coldRatio = ratio(cold.p50Ms, baseline.p50Ms);
  const verdict = (value: number, target: number) => (value <= target ? "met" : "missed");
  const invokeRatio = ratio(baseline.p50Ms, direct.p50Ms);
  const contendedP99 = ratio(contended.p99Ms, warm.p50Ms);
  const contendedThroughput = ratio(contended.throughput, warm.throughput);
  const spreadP50 = ratio(spread.p50Ms, warm.p50Ms);
  const chart = writeSvg(
    "paxos-latency",
    latencyChart(
      "Paxos: latency per case (ms, log scale)",
      ["p50", "p99"],
      rows.map(([s]) => ({ name: s.name.replace(/ \(.*$/, ""), values: [s.p50Ms, s.p99Ms] })),
    ),
  );
  const markdown = `## Paxos (\`npm run bench -- paxos\`)

${environmentLine()}; 3 replicas; the Api and each replica run 4 environments.

${table(
  ["case", "n", "writers", "p50 ms", "p99 ms", "ops/s", "503s", "round trips / change", "p50 / baseline p50"],
  rows.map(([s, r]) => [...statsCells(s), s.errors, roundTrips.get(s) ?? "—", r]),
)}

![Paxos latency per case](${chart.replace(/^docs\//, "")})

- One Invoke and one conditional write (a): ${invokeRatio}× a direct conditional UpdateItem from Node
  (target ≤ ${TARGETS.invoke}×, ${verdict(invokeRatio, TARGETS.invoke)}). The difference is the local Lambda path: the SDK's HTTP call to
  the Lambda API, the hand-off to the function's worker thread and back, and the function's own SDK call.
- Warm PUT: ${warmRatio}× the baseline (target ≤ ${TARGETS.warm}×, ${verdict(warmRatio, TARGETS.warm)}).
- Cold PUT: ${coldRatio}× the baseline (target ≤ ${TARGETS.cold}×, ${verdict(coldRatio, TARGETS.cold)}).
- 8 writers on one key (d): p99 ${contendedP99}× the warm p50 (target ≤ ${TARGETS.contendedP99}×, ${verdict(contendedP99, TARGETS.contendedP99)}); throughput
  ${contendedThroughput}× the warm single writer's (target ≥ ${TARGETS.contendedThroughput}×, ${contendedThroughput >= TARGETS.contendedThroughput ? "met" : "missed"}). A writer rejected by a higher ballot waits about
  one measured round trip (the ballot's owner may finish) plus a jittered share that doubles per round, up
  to 1 s, and jumps its next ballot further ahead the more rounds it lost. Concurrent calls on one key in one proposer share a round (combined), but a Lambda environment
  runs one invocation at a time: the 8 writers here are 4 proposers (the Api's 4 environments), which
  duel for the key, and a writer that keeps losing makes the tail. For scale: if the writers took turns in
  a fair rotation, each write a hand-off at a cold PUT's cost (prepare, then accept), every write would wait
  8 × ${cold.p50Ms} ms = ${Number((8 * cold.p50Ms).toPrecision(3))} ms, ${ratio(8 * cold.p50Ms, warm.p50Ms)}× the warm p50 and
  ${ratio(1000 / cold.p50Ms, warm.throughput)}× its throughput. Paxos leaves the order of contending writers to chance (backoff with
  jitter); acceptors that queued writers would each see them arrive in a different order, and a queue
  that a majority does not agree on stalls everyone until it expires. (Tried: capping the doubling of the
  backoff at 8 round trips raised (d)'s throughput to 0.83× but its p99 to 61× — the warm writer kept
  winning — and was not kept.)
- One replica of three down (g): ${(oneDownShare * 100).toFixed(3)} % of ${oneDown.count + oneDown.errors} writes answered 503
  (target < ${TARGETS.oneDown503 * 100} %, ${oneDownShare < TARGETS.oneDown503 ? "met" : "missed"}), against ${(share503(sharedKeys) * 100).toFixed(3)} % with every replica up (f). A majority
  is still up, so a write needs both live replicas; a rejection from one of them beside the dead one's
  error is contention, and the proposer retries with a higher ballot. Throughput ${ratio(oneDown.throughput, sharedKeys.throughput)}× (f)'s.
- 16 writers on 16 keys (e): p50 ${spreadP50}× the warm p50 (target ≤ ${TARGETS.spreadP50}×, ${verdict(spreadP50, TARGETS.spreadP50)}); the quorum floor at
  that concurrency (16 quorum calls at once, no HTTP API, no Api function) is ${floor16.p50Ms} ms at p50, ${ratio(floor16.p50Ms, warm.p50Ms)}× the warm p50.
- The quorum floor, the same Invoke sent to the three replicas at once and done when two answered, is
  ${floorRatio}× the baseline on this machine: the three replica functions and DynamoDB Local share its
  ${cpus().length} cores, so calls that run side by side on AWS queue here. A warm PUT is
  ${ratio(warm.p50Ms, floor.p50Ms)}× that floor and a cold PUT ${ratio(cold.p50Ms, floor.p50Ms)}× it (one and two quorum round trips).${
    warmRatio > TARGETS.warm || coldRatio > TARGETS.cold
      ? `
  A missed target is this floor, not the protocol: what would close it is running the replicas in
  parallel, as Lambda does on AWS (\`E2E_BASE_URL\` points the e2e suite at a deployment; the benchmark
  against a deployment is not written yet), or a machine with more cores.`
      : ""
  }

The baseline is the floor of any replicated write here: one Lambda Invoke and one conditional
UpdateItem. A warm PUT adds the HTTP API hop and the Api function's own invocation (the GET /health row),
then invokes the three replicas in parallel and waits for the second answer; a cold PUT does that twice
(prepare, then accept). Contention (d) costs extra rounds: a writer whose ballot was overtaken is
rejected, waits about a round trip (more, jittered, each round) and retries with a higher ballot. Every
function runs all its environments, started before the suite measures, as provisioned concurrency would. In (e) each key has one writer, but the
16 writers share the Api function's 4 environments, each its own proposer: a key's next write often lands
on an environment whose ballot for it is stale: its warm accept is rejected, and the rejections' fallback
promises make the retry phase 2 at once (two round trips instead of one; three without the fallback).`;
  writeReport(
    "paxos",
    {
      environment: environmentLine(),
      targets: TARGETS,
      results: rows.map(([s]) => ({ ...s, roundTripsPerChange: roundTrips.get(s) ?? null })),
    },
    markdown,
  );
  return { warmRatio, coldRatio, invokeRatio, contendedP99, contendedThroughput, spreadP50, oneDownShare };
}
