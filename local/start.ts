/**
 * `npm start` (through main.ts): the whole stack on this machine, with no Docker and no AWS account.
 *   --in-memory            keep no data (default: DynamoDB Local's files under .local/dynamodb)
 *   --port N               HTTP API port (env PORT, default 3000)
 *   --lambda-port N        Lambda Invoke API port (env LAMBDA_PORT, default 3001)
 *   --dynamodb-port N      DynamoDB Local port (env DYNAMODB_PORT, default 8000)
 *   --sqs-port N           SQS emulator port (env SQS_PORT, default 9324)
 *   --quiet                do not print the functions' own log lines
 *   --concurrency N        execution environments per function (default 4; a function's reserved
 *                          concurrency in the template still caps it)
 *   --app DIR              run another CDK app (synthesized with its own cdk.json) instead of this one
 *   --assembly DIR         run a cloud assembly already synthesized (cdk.out)
 *   --stack NAME           the stack to run when the app or assembly has several
 *   -c, --context KEY=VALUE   CDK context for this project's stack (repeatable), e.g. -c leaseDurationMs=3000
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fromRoot } from "../infra/paths.ts";
import { STACK_NAME } from "../infra/stack-name.ts";
import { startEngines, warmEngines } from "./engines.ts";

// Everything else loads while the engines boot (aws-cdk-lib alone takes a second or more): see below.

// The pinned SDK supports Node.js 20; its notice about future releases is not for this process.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const { values } = parseArgs({
  options: {
    "in-memory": { type: "boolean", default: false },
    port: { type: "string", default: process.env.PORT ?? "3000" },
    "lambda-port": { type: "string", default: process.env.LAMBDA_PORT ?? "3001" },
    "dynamodb-port": { type: "string", default: process.env.DYNAMODB_PORT ?? "8000" },
    "sqs-port": { type: "string", default: process.env.SQS_PORT ?? "9324" },
    quiet: { type: "boolean", default: false },
    concurrency: { type: "string", default: "4" },
    app: { type: "string" },
    assembly: { type: "string" },
    stack: { type: "string" },
    context: { type: "string", short: "c", multiple: true, default: [] },
  },
});
const context: Record<string, string> = {};
for (const pair of values.context) {
  const at = pair.indexOf("=");
  if (at < 1) {
    console.error(`--context takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    process.exit(2);
  }
  context[pair.slice(0, at)] = pair.slice(at + 1);
}
if ((values.app || values.assembly) && values.context.length > 0) {
  console.error(
    "--context applies to this project's stack; an --app takes its context from its own cdk.json",
  );
  process.exit(2);
}
const concurrency = Number(values.concurrency);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
  console.error(`--concurrency takes a whole number from 1 to 64, got ${JSON.stringify(values.concurrency)}`);
  process.exit(2);
}
if (values.app && values.assembly) {
  console.error("--app and --assembly exclude each other: pass one");
  process.exit(2);
}

// From the process's start: loading modules counts too.
const started = performance.timeOrigin;
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const localDir = fromRoot(".local");
mkdirSync(localDir, { recursive: true });

// Signals may come at any point of start-up: stop whatever has started by then.
const running: Array<() => Promise<void>> = [];
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping...`);
    for (const stop of running.reverse()) await stop().catch(() => {});
    console.log("stopped");
    process.exit(0);
  });
}

console.log(
  `serverless-coordination local cloud${values.app ? `: app ${values.app}` : values.assembly ? `: assembly ${values.assembly}` : ""}`,
);
console.log(`[${elapsed()}] starting DynamoDB Local and the SQS emulator...`);
// The engines boot in their own process while this one synthesizes.
const enginesStarting = startEngines({
  dynamodbPort: Number(values["dynamodb-port"]),
  sqsPort: Number(values["sqs-port"]),
  dataDir: values["in-memory"] ? undefined : join(localDir, "dynamodb"),
});
const modulesStarted = Date.now();
const [{ AppError, assemblyDirFor, readStack, synthesizeApp }, { startLocalCloud }] = await Promise.all([
  import("./app.ts"),
  import("./cloud.ts"),
]);
const modulesAt = Date.now();
// A failed synthesis exits the process, and the engines' exit hook stops the JVM.
const stack = await (async () => {
  try {
    if (values.assembly) return readStack(values.assembly, values.stack);
    if (values.app) {
      const outdir = assemblyDirFor(values.app);
      console.log(`[${elapsed()}] synthesizing ${values.app} with its cdk.json into ${outdir}...`);
      synthesizeApp(values.app, outdir);
      return readStack(outdir, values.stack);
    }
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  const outdir = join(localDir, "cdk.out");
  const { cachedAssembly, rememberAssembly, sourceHash } = await import("./assembly-cache.ts");
  const key = `${sourceHash(fromRoot("."))}:${JSON.stringify(context)}`;
  if (cachedAssembly(outdir, key)) {
    console.log(`[${elapsed()}] reusing the assembly of the last start (nothing that feeds it changed)`);
    return readStack(outdir, STACK_NAME);
  }
  console.log(`[${elapsed()}] synthesizing the stack and bundling its functions...`);
  const [{ buildApp }, { synthesizeStack }] = await Promise.all([
    import("../infra/app.ts"),
    import("./synthesize.ts"),
  ]);
  const synthesized = synthesizeStack((app) => {
    for (const [name, value] of Object.entries(context)) app.node.setContext(name, value);
    return buildApp(app).stack;
  }, outdir);
  rememberAssembly(outdir, key);
  return synthesized;
})();
const synthesizedAt = Date.now();
// One environment per function boots (a worker thread with the SDK its bundle imports) while DynamoDB
// Local's JVM boots; the functions' own init waits for their resources.
const { RuntimePool } = await import("./functions.ts");
const runtimes = new RuntimePool();
runtimes.bootFor(stack.template, stack.assemblyDir);
const engines = await enginesStarting;
const enginesAt = Date.now();
running.push(() => engines.stop());
if (!engines.dynamodbIsolated)
  console.warn(
    "warning: DynamoDB Local listens on every interface of this machine (no network namespace here: Linux with unshare and ip is needed); anyone who can reach its port can read and write the local tables",
  );
console.log(`[${elapsed()}] creating the stack's resources...`);

const cloud = await startLocalCloud({
  stack,
  engines,
  workDir: join(localDir, "work"),
  httpPort: Number(values.port),
  lambdaPort: Number(values["lambda-port"]),
  defaultConcurrency: concurrency,
  runtimes,
  log: (line) => console.error(`[local] ${line}`),
  functionLog: values.quiet ? undefined : (id, line) => console.log(`[${id}] ${line}`),
});
const createdAt = Date.now();
// "Ready" means ready: every environment of every function has its module loaded (as provisioned
// concurrency would), and the engines have run the operations a stack runs (their JIT has compiled them),
// so the first minute under load is like a later one. Cold starts after "ready" would compete with the
// first requests for the machine's cores and can outlast the Api's calls to the replicas: warmed in the
// background after "ready" instead, the load bench's first minute had 1.75 to 2.3 times a later minute's
// p99; this way 1.3 to 1.4 times, for about 2 s more before "ready". Round by round (every function's
// first environment, then every second, ...), so that no more inits run at once than there are functions.
const environments = cloud.functions.reduce((sum, fn) => sum + fn.concurrency, 0);
console.log(
  `[${elapsed()}] warming ${environments} environments (${cloud.functions.length} functions, up to ${concurrency} each) and the engines...`,
);
const warmTimes = new Map<string, number>();
const failed = new Set<string>();
const most = Math.max(0, ...cloud.functions.map((fn) => fn.concurrency));
const warming = (async () => {
  for (let count = 1; count <= most; count++)
    await Promise.all(
      cloud.functions
        .filter((fn) => fn.concurrency >= count)
        .map(async (fn) => {
          if (!(await fn.prewarm(count))) failed.add(fn.id);
          warmTimes.set(fn.id, Date.now() - createdAt);
        }),
    );
})();
// Meanwhile the engines, with a table and a queue of the local cloud's own; a failure only warms less.
const engineRounds = await warmEngines(engines, warming).catch((error: Error) => {
  console.warn(`warning: warming the engines failed (${error.message}); nothing else depends on it`);
  return 0;
});
await warming;
for (const id of failed)
  console.warn(
    `warning: ${id}'s module failed to load or took more than 10 s (its first invocation will say why)`,
  );
const warmedAt = Date.now();

const list = (title: string, items: string[]) => {
  console.log(`\n${title} (${items.length})`);
  for (const item of items) console.log(`  ${item}`);
};
running.push(() => cloud.stop());
list(
  "HTTP API routes",
  cloud.routes.map(
    (route) =>
      `${route.routeKey.padEnd(40)} -> ${route.fn?.id ?? `mock integration (${route.mock?.status})`}`,
  ),
);
list(
  "functions",
  cloud.functions.map((fn) => `${fn.id.padEnd(24)} ${fn.name} (at most ${fn.concurrency} environments)`),
);
list(
  "tables",
  cloud.tables.map((table) => `${table.name}${table.streamArn ? " (stream)" : ""}`),
);
list(
  "queues",
  cloud.queues.map((queue) => queue.url),
);
list(
  "event source mappings",
  cloud.mappings.map((mapping) => `${mapping.kind.padEnd(8)} ${mapping.sourceArn} -> ${mapping.fn.id}`),
);
list(
  "skipped (not run locally)",
  cloud.skipped.map((item) => `${item.logicalId} (${item.type}): ${item.reason}`),
);
list(
  "outputs",
  Object.entries(cloud.outputs).map(([name, value]) => `${name} = ${value}`),
);
const ownApp = !values.app && !values.assembly;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
console.log(
  `\nwhere the time went: Node.js and the first modules ${seconds(modulesStarted - started)}, the local cloud's modules ${seconds(modulesAt - modulesStarted)}, synthesis ${seconds(synthesizedAt - modulesAt)}, then waiting for the engines (started in parallel; DynamoDB Local ${{ mapped: "with its class archive", building: "without a class archive: one is being built in the background for the next start", none: "without a class archive" }[engines.dynamodbClassArchive]}) ${seconds(enginesAt - synthesizedAt)}, resources and functions ${seconds(createdAt - enginesAt)}, warming ${seconds(warmedAt - createdAt)} (the engines: ${engineRounds} rounds of writes, reads and messages; ${[...warmTimes].map(([id, ms]) => `${id} ${seconds(ms)}`).join(", ")})`,
);
console.log(`
ready in ${elapsed()}
  HTTP API         ${cloud.apiUrl}${ownApp ? `        e.g. curl ${cloud.apiUrl}/health` : ""}${
    ownApp
      ? `
                   routes with IAM authorization need SigV4 with the local credentials, e.g.
                   curl --aws-sigv4 aws:amz:us-east-1:execute-api --user ${cloud.accessKeyId}:local ${cloud.apiUrl}/kv/k`
      : ""
  }
  console          ${cloud.apiUrl}/_console   (watch the protocols; local only)
  Lambda API       ${cloud.lambdaEndpoint}   (AWS_ENDPOINT_URL_LAMBDA; faults: PUT /_local/faults/{functionId})
  DynamoDB Local   ${cloud.dynamodbEndpoint}   (access key id "${cloud.accessKeyId}")
  SQS emulator     ${cloud.sqsEndpoint}
  data             ${values["in-memory"] ? "in memory" : join(localDir, "dynamodb")}
Ctrl-C stops everything.`);
