/**
 * `npm run bench -- runtimes`: the two ways the local cloud runs a function, side by side on the same
 * trivial handler: Node.js in a worker thread (how nodejs* functions run; the baseline) and a process on
 * Lambda's Runtime API (how Python and provided.* functions run): a Node.js bootstrap of the Runtime
 * API's loop, and our Python bootstrap. Cold starts (a fresh environment's first invocation) and warm
 * invocations, in-process through each function's environments, one environment each.
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  type LocalFunction,
  startEngines,
  startLocalCloud,
} from "@serverless-coordination/local-cloud";
import { synthesizeStack } from "@serverless-coordination/local-cloud/synthesize";
import { Duration, Stack } from "aws-cdk-lib";
import { Code, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import { environmentLine, ratio, summarize, table, writeReport } from "./lib.ts";

const NODE_HANDLER = "export const handler = async (event) => ({ n: event.n });\n";
const PYTHON_HANDLER = "def handler(event, context):\n    return {'n': event['n']}\n";
/** A custom runtime in Node.js: the Runtime API's loop around the same handler. */
const NODE_BOOTSTRAP = `#!/usr/bin/env node
import { handler } from "./index.mjs";
const api = \`http://\${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime\`;
for (;;) {
  const next = await fetch(\`\${api}/invocation/next\`);
  const id = next.headers.get("lambda-runtime-aws-request-id");
  const result = await handler(await next.json());
  await fetch(\`\${api}/invocation/\${id}/response\`, { method: "POST", body: JSON.stringify(result) });
}
`;

const COLD_STARTS = 7;
const WARM_INVOCATIONS = 400;

function assetDir(files: Record<string, string>, executable: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), "bench-runtime-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  for (const name of executable) chmodSync(join(dir, name), 0o755);
  return dir;
}

async function timed(fn: LocalFunction, n: number): Promise<number> {
  const began = performance.now();
  const result = await fn.invoke({ n });
  if (!result.ok || (result.payload as { n?: number }).n !== n)
    throw new Error(`${fn.id} answered ${JSON.stringify(result)}`);
  return performance.now() - began;
}

export async function benchRuntimes(scale: number) {
  const dirs = {
    worker: assetDir({ "index.mjs": NODE_HANDLER }),
    runtimeApi: assetDir({ "index.mjs": NODE_HANDLER, bootstrap: NODE_BOOTSTRAP }, ["bootstrap"]),
    python: assetDir({ "index.py": PYTHON_HANDLER }),
  };
  const stack = synthesizeStack(
    (app) => {
      const stack = new Stack(app, "Runtimes");
      const common = { timeout: Duration.seconds(10), reservedConcurrentExecutions: 1 };
      new LambdaFunction(stack, "NodeWorker", {
        ...common,
        runtime: Runtime.NODEJS_24_X,
        handler: "index.handler",
        code: Code.fromAsset(dirs.worker),
      });
      new LambdaFunction(stack, "NodeRuntimeApi", {
        ...common,
        runtime: Runtime.PROVIDED_AL2023,
        handler: "index.handler",
        code: Code.fromAsset(dirs.runtimeApi),
      });
      new LambdaFunction(stack, "Python", {
        ...common,
        runtime: Runtime.PYTHON_3_12,
        handler: "index.handler",
        code: Code.fromAsset(dirs.python),
      });
      return stack;
    },
    mkdtempSync(join(tmpdir(), "bench-runtimes-assembly-")),
  );
  const engines = await startEngines({ dynamodbPort: await freePort(), sqsPort: await freePort() });
  const cloud = await startLocalCloud({
    stack,
    engines,
    httpPort: await freePort(),
    lambdaPort: await freePort(),
    log: (line) => console.error(`[local] ${line}`),
  });
  const rows: Array<{
    name: string;
    cold: ReturnType<typeof summarize>;
    warm: ReturnType<typeof summarize>;
  }> = [];
  try {
    const names = {
      NodeWorker: "Node.js, worker thread",
      NodeRuntimeApi: "Node.js, Runtime API process",
      Python: `Python (${process.env.LOCAL_CLOUD_PYTHON ?? "python3"}), Runtime API process`,
    };
    for (const [id, name] of Object.entries(names)) {
      const fn = cloud.byConstruct(cloud.functions, id);
      const colds: number[] = [];
      for (let i = 0; i < Math.max(3, Math.round(COLD_STARTS * scale)); i++) {
        // New code (the same) ends the environment: the next invocation starts a fresh one.
        fn.replaceCode(fn.codeDir, fn.handler);
        colds.push(await timed(fn, i));
      }
      const began = performance.now();
      const warm: number[] = [];
      for (let i = 0; i < Math.max(50, Math.round(WARM_INVOCATIONS * scale)); i++)
        warm.push(await timed(fn, i));
      rows.push({
        name,
        cold: summarize(
          `${name} cold`,
          colds,
          1,
          colds.reduce((a, b) => a + b, 0),
        ),
        warm: summarize(`${name} warm`, warm, 1, performance.now() - began),
      });
    }
  } finally {
    await cloud.stop();
    await engines.stop();
  }
  const [baseline] = rows;
  const markdown = `## Runtimes: worker threads and the Runtime API

${environmentLine()}

The same trivial handler (answers its event's \`n\`) three ways, one environment each: Node.js in a worker
thread (how \`nodejs*\` functions run locally; the baseline), a Node.js custom runtime looping on the
Runtime API in a process of its own (how \`provided.*\` functions run), and Python through the local
cloud's bootstrap (how \`python3.*\` functions run). A cold start is an environment's first invocation
(its process or thread started, its module loaded); warm invocations follow in the same environment.

${table(
  ["how it runs", "cold p50 ms", "cold × worker", "warm p50 ms", "warm p99 ms", "warm p50 × worker"],
  rows.map((row) => [
    row.name,
    row.cold.p50Ms,
    ratio(row.cold.p50Ms, baseline!.cold.p50Ms),
    row.warm.p50Ms,
    row.warm.p99Ms,
    ratio(row.warm.p50Ms, baseline!.warm.p50Ms),
  ]),
)}

Node.js functions keep the worker path where it is faster: a worker thread shares this process's loaded
Node.js, and hands events over by message instead of HTTP.
`;
  writeReport("runtimes", rows, markdown);
}
