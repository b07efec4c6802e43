/**
 * `npm run bench -- replication`: what waiting for every replica costs, how far behind `primary` writes
 * leave the other replicas, and what the outbox path delivers per second against sending to SQS directly.
 */
import { cpus } from "node:os";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { METRIC } from "@serverless-coordination/core/aws";
import { kvItemKey } from "@serverless-coordination/core/replication";
import { freePort, startLocalCloud } from "@serverless-coordination/local-cloud";
import { synthesizeStack } from "@serverless-coordination/local-cloud/synthesize";
import { fromRoot } from "../infra/paths.ts";
import { stageChart } from "./chart.ts";
import {
  type BenchCloud,
  environmentLine,
  expectStatus,
  HttpError,
  metricMean,
  metricTotals,
  percentile,
  ratio,
  summarize,
  table,
  writeReport,
  writeSvg,
} from "./lib.ts";
import { naiveOutboxStack } from "./naive-outbox.ts";

interface PutAnswer {
  version: string;
}

async function put(cloud: BenchCloud, key: string, value: unknown, consistency: "all" | "primary") {
  const response = await cloud.fetch(`${cloud.apiUrl}/kv/${key}`, {
    method: "PUT",
    body: JSON.stringify({ value, consistency }),
  });
  return (await expectStatus(response, 200, `PUT /kv/${key}`)) as PutAnswer;
}

/** A replica that did not answer in time (a cold start on a busy machine) is counted, not fatal. */
const unavailable = (error: unknown) => error instanceof HttpError && error.status === 503;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, done: () => Promise<boolean>, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not done within ${timeoutMs} ms`);
    await sleep(20);
  }
}

export async function benchReplication(cloud: BenchCloud, scale: number) {
  const n = (count: number) => Math.max(10, Math.round(count * scale));
  const run = Date.now().toString(36);
  console.log("replication");

  // 1. PUT latency, one writer at a time, the two modes interleaved so that both meet the same
  // background work (the Replicator applying earlier writes).
  for (let i = 0; i < 10; i++) {
    await put(cloud, `warm-${run}`, i, "primary").catch(() => {});
    await put(cloud, `warm-${run}`, i, "all").catch(() => {});
  }
  const samples = { primary: [] as number[], all: [] as number[] };
  const errors = { primary: 0, all: 0 };
  const startedPuts = performance.now();
  for (let i = 0; i < n(300); i++) {
    for (const mode of ["primary", "all"] as const) {
      const t0 = performance.now();
      try {
        await put(cloud, `${mode}-${run}-${i % 20}`, i, mode);
        samples[mode].push(performance.now() - t0);
      } catch (error) {
        if (!unavailable(error)) throw error;
        errors[mode]++;
      }
    }
  }
  const putWall = performance.now() - startedPuts;
  const primary = summarize("PUT consistency=primary", samples.primary, 1, putWall / 2, errors.primary);
  const all = summarize("PUT consistency=all", samples.all, 1, putWall / 2, errors.all);
  for (const stats of [primary, all])
    console.log(
      `  ${stats.name}: p50 ${stats.p50Ms} ms, p99 ${stats.p99Ms} ms (n=${stats.count}, errors ${stats.errors})`,
    );

  // 2. Replication lag of primary writes: from the answer to the last replica applying the change (each
  // replica stamps appliedAt when its conditional write succeeds). One write every 50 ms. The functions'
  // stage metrics over the same writes say where the time goes.
  const stagesBefore = await metricTotals(cloud);
  const replicaTables = ["Replica2Table", "Replica3Table"].map((id) => cloud.tableName(id));
  const lagWrites = n(200);
  const answered: Array<{ key: string; version: string; at: number }> = [];
  for (let i = 0; i < lagWrites; i++) {
    const key = `lag-${run}-${i}`;
    const { version } = await put(cloud, key, i, "primary");
    answered.push({ key, version, at: Date.now() });
    await sleep(50);
  }
  const appliedAt = async (tableName: string, key: string, version: string) => {
    const { Item } = await cloud.documents.send(
      new GetCommand({ TableName: tableName, Key: kvItemKey(key), ConsistentRead: true }),
    );
    return Item?.version === version ? Date.parse(Item.appliedAt as string) : undefined;
  };
  const lags: number[] = [];
  for (const write of answered) {
    let last = 0;
    for (const tableName of replicaTables) {
      let at: number | undefined;
      await until(`replication of ${write.key}`, async () => {
        at = await appliedAt(tableName, write.key, write.version);
        return at !== undefined;
      });
      last = Math.max(last, at!);
    }
    lags.push(Math.max(0, last - write.at));
  }
  lags.sort((a, b) => a - b);
  const lag = { count: lags.length, p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99) };
  console.log(`  replication lag (primary): p50 ${lag.p50Ms} ms, p99 ${lag.p99Ms} ms`);
  const stagesAfter = await metricTotals(cloud);
  const stageMean = (name: string) => metricMean(stagesBefore, stagesAfter, name);
  const stages = [
    { stage: "commit (the PUT, answered)", meanMs: primary.meanMs, source: "the bench's PUT timings" },
    {
      stage: "commit → Relay invoked (stream, poll)",
      meanMs: stageMean(METRIC.stageStreamToRelay),
      source: METRIC.stageStreamToRelay,
    },
    {
      stage: "Relay's send to ChangesQueue",
      meanMs: stageMean(METRIC.stageRelaySend),
      source: METRIC.stageRelaySend,
    },
    {
      stage: "send → Replicator invoked (queue, poll)",
      meanMs: stageMean(METRIC.stageQueueToReplicator),
      source: METRIC.stageQueueToReplicator,
    },
    {
      stage: "apply on the 2 other replicas (the primary committed it)",
      meanMs: stageMean(METRIC.stageApply),
      source: METRIC.stageApply,
    },
    {
      stage: "count (the batch's claims, then their completions and increments)",
      meanMs: stageMean(METRIC.stageCount),
      source: METRIC.stageCount,
    },
  ];
  const lagMean = stageMean(METRIC.replicationLag);
  for (const { stage, meanMs } of stages) console.log(`  stage ${stage}: mean ${meanMs} ms`);

  // 3. Throughput: writes committed → changes delivered (counted by the Replicator), against sending the
  // same number of messages to a FIFO queue directly and receiving them.
  const total = n(400);
  const keys = Array.from({ length: 20 }, (_, i) => `tp-${run}-${i}`);
  const counters = cloud.tableName("ChangeCounterTable");
  const delivered = async () => {
    const { Items = [] } = await cloud.documents.send(
      new ScanCommand({ TableName: counters, ConsistentRead: true }),
    );
    return Items.filter((item) => String(item.pk).startsWith(`tp-${run}-`)).reduce(
      (sum, item) => sum + Number(item.changes),
      0,
    );
  };
  let started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < total) {
        const i = next++;
        await put(cloud, keys[i % keys.length]!, i, "primary");
      }
    }),
  );
  const committedPerSecond = (total / (performance.now() - started)) * 1000;
  await until("delivery of the outbox writes", async () => (await delivered()) >= total);
  const outboxPerSecond = (total / (performance.now() - started)) * 1000;

  const { QueueUrl } = await cloud.sqs.send(
    new CreateQueueCommand({ QueueName: `bench-${run}.fifo`, Attributes: { FifoQueue: "true" } }),
  );
  started = performance.now();
  next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < total) {
        const i = next++;
        await cloud.sqs.send(
          new SendMessageCommand({
            QueueUrl,
            MessageBody: JSON.stringify({ key: keys[i % keys.length], version: String(i), value: i }),
            MessageGroupId: keys[i % keys.length],
            MessageDeduplicationId: `${run}-${i}`,
          }),
        );
      }
    }),
  );
  let received = 0;
  while (received < total) {
    const { Messages = [] } = await cloud.sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    received += Messages.length;
    if (Messages.length > 0)
      await cloud.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl,
          Entries: Messages.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
  }
  const directPerSecond = (total / (performance.now() - started)) * 1000;
  const naivePerSecond = await naiveOutbox(cloud, run, total);
  const round = (value: number) => Math.round(value * 10) / 10;
  console.log(
    `  throughput: outbox ${round(outboxPerSecond)}/s, naive outbox ${round(naivePerSecond)}/s, direct SQS ${round(directPerSecond)}/s (n=${total})`,
  );

  const allRatio = ratio(all.p50Ms, primary.p50Ms);
  const outboxRatio = ratio(outboxPerSecond, directPerSecond);
  const naiveRatio = ratio(outboxPerSecond, naivePerSecond);
  const chart = writeSvg(
    "outbox-stages",
    stageChart(
      "Outbox path: where a primary write's time goes (mean ms per change)",
      stages.map(({ stage }) => stage),
      [{ name: "mean per change", values: stages.map(({ meanMs }) => meanMs) }],
    ),
  );
  const markdown = `## Replication (\`npm run bench -- replication\`)

${environmentLine()}; 3 replicas (Replica1 is the primary).

PUT latency, one writer, the two modes interleaved:

${table(
  ["consistency", "n", "p50 ms", "p99 ms", "503s", "p50 / primary p50"],
  [primary, all].map((s) => [
    s.name.replace("PUT consistency=", ""),
    s.count,
    s.p50Ms,
    s.p99Ms,
    s.errors,
    ratio(s.p50Ms, primary.p50Ms),
  ]),
)}

Replication lag of \`primary\` writes (from the answer to the last replica applying the change; one
write every 50 ms):

${table(["n", "p50 ms", "p99 ms"], [[lag.count, lag.p50Ms, lag.p99Ms]])}

Where a change's time goes, stage by stage, over the same writes (the mean per change; each stage from
the metric the functions emit, in the embedded metric format CloudWatch reads on AWS):

${table(
  ["stage", "mean ms", "measured by"],
  [
    ...stages.map(({ stage, meanMs, source }) => [stage, meanMs, source]),
    [
      "commit → applied on every replica (about the sum of the stages before counting)",
      lagMean,
      METRIC.replicationLag,
    ],
  ],
)}

End-to-end throughput (${total} writes from 8 writers over 20 keys; a write counts once the Replicator
has applied it to every replica and counted it):

${table(
  ["path", "messages/s", "ratio"],
  [
    ["baseline: SendMessage to a FIFO queue, then receive", round(directPerSecond), "1.00"],
    [
      "naive outbox: PUT → PutItem → stream → one SendMessage per record → receive",
      round(naivePerSecond),
      ratio(naivePerSecond, directPerSecond),
    ],
    [
      "PUT primary answered (committed with its outbox record)",
      round(committedPerSecond),
      ratio(committedPerSecond, directPerSecond),
    ],
    [
      "PUT primary → outbox → stream → Relay → ChangesQueue → Replicator",
      round(outboxPerSecond),
      ratio(outboxPerSecond, directPerSecond),
    ],
  ],
)}

![Where a primary write's time goes](${chart.replace(/^docs\//, "")})

- \`all\` vs \`primary\` PUT: ${allRatio}× at p50 (target ≤ 1.5×, ${allRatio <= 1.5 ? "met" : "missed"}). An \`all\` write is the
  primary's commit, then the other replicas' apply at the version the commit gave: two replica round trips
  one after the other where \`primary\` has one, so about 2× once the commit is one DynamoDB round trip.
  Overlapping the two would need the version before the commit, and a replica could then hold a version
  the primary never committed.
- Outbox end to end vs a direct SQS send: ${outboxRatio}× (target ≥ 0.3×, ${outboxRatio >= 0.3 ? "met" : "missed"}), with every guarantee kept.
- Against the naive outbox (PutItem, stream, one SendMessage per record, no transaction; its own small
  stack, bench/naive-outbox.ts, on the same engines and local Lambda runtime): ${naiveRatio}× (target ≥ 1×,
  ${naiveRatio >= 1 ? "met" : "missed"}). The naive path ends when a consumer receives the message; ours
  when the change is applied on every replica and counted.

An \`all\` write adds a second, parallel round of replica invokes to the primary's transaction. The lag of
a \`primary\` write is the stream poll, the Relay's send, the queue poll and the Replicator's apply (one
invocation per follower for the whole batch, each change one conditional write; the primary is skipped, it
committed the change). ${
    outboxPerSecond >= 0.95 * committedPerSecond
      ? `Deliveries kept pace with commits (${round(outboxPerSecond)}/s delivered against ${round(committedPerSecond)}/s committed): the limit
of the outbox path here is the commit`
      : `Deliveries fell behind commits (${round(outboxPerSecond)}/s delivered against ${round(committedPerSecond)}/s committed): the Relay and the
Replicator are part of the limit here, beside the commit`
  }, while the naive outbox's writer is one PutItem and reaches ${round(naivePerSecond)}/s on the same HTTP API,
local Lambda runtime and DynamoDB Local. The throughput ratio against a bare send is what the outbox's
guarantees (nothing lost, nothing sent that was not committed, each change applied to every replica and
counted once) cost: per change, the Api's invocation of the primary and its transaction (no read before it),
then the followers' conditional writes, and per Replicator batch two transactions (the batch's claims, then
their completions with the counters' increments), all sharing this machine's ${cpus().length} cores with
DynamoDB Local, where a bare send is one request to an in-process queue.`;
  writeReport(
    "replication",
    {
      environment: environmentLine(),
      put: { primary, all },
      lag,
      stages,
      lagMeanMs: lagMean,
      throughput: { writes: total, committedPerSecond, outboxPerSecond, naivePerSecond, directPerSecond },
    },
    markdown,
  );
}

/**
 * The naive outbox (bench/naive-outbox.ts) on the same engines: `total` PUTs from 8 writers over 20 keys,
 * each counted once a consumer received its message. Answers messages per second.
 */
async function naiveOutbox(cloud: BenchCloud, run: string, total: number): Promise<number> {
  const naive = await startLocalCloud({
    stack: synthesizeStack(naiveOutboxStack, fromRoot(".local/bench-naive-assembly")),
    engines: cloud.engines,
    httpPort: await freePort(),
    lambdaPort: await freePort(),
    namePrefix: `naive-${run}`,
    log: (line) => console.error(`[local naive] ${line}`),
  });
  try {
    const queueUrl = naive.outputs.QueueUrl!;
    const keys = Array.from({ length: 20 }, (_, i) => `naive-${run}-${i}`);
    // One write through each path first, so that neither pays the functions' cold starts in the run.
    await expectStatus(
      await fetch(`${naive.apiUrl}/naive/${keys[0]}`, { method: "PUT", body: JSON.stringify({ value: -1 }) }),
      200,
      "PUT /naive (warm-up)",
    );
    let received = 0;
    const receiveAll = async (count: number) => {
      while (received < count) {
        const { Messages = [] } = await cloud.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        received += Messages.length;
        if (Messages.length > 0)
          await cloud.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: Messages.map((message, index) => ({
                Id: String(index),
                ReceiptHandle: message.ReceiptHandle,
              })),
            }),
          );
      }
    };
    await receiveAll(1);
    received = 0;
    const started = performance.now();
    let next = 0;
    const consumer = receiveAll(total);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) {
          const i = next++;
          await expectStatus(
            await fetch(`${naive.apiUrl}/naive/${keys[i % keys.length]}`, {
              method: "PUT",
              body: JSON.stringify({ value: i }),
            }),
            200,
            "PUT /naive",
          );
        }
      }),
    );
    await consumer;
    return (total / (performance.now() - started)) * 1000;
  } finally {
    await naive.stop();
  }
}
