/**
 * The local cloud's start (through bin.ts): a CDK app's stack on this machine, with no Docker and no AWS
 * account. Its options: cli.ts (`local-cloud --help`).
 */

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseStartArgs, USAGE } from "./cli.ts";
import { byConstructPath } from "./construct-ids.ts";
import { startEngines, warmEngines } from "./engines.ts";

// Everything else loads while the engines boot (aws-cdk-lib alone takes a second or more): see below.

// The pinned SDK supports Node.js 20; its notice about future releases is not for this process.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const parsed = parseStartArgs(process.argv.slice(2), process.env);
if (parsed.kind === "help") {
  console.log(USAGE);
  process.exit(0);
}
if (parsed.kind === "error") {
  console.error(`local-cloud: ${parsed.message}`);
  process.exit(2);
}
const options = parsed.options;
if (options.app !== undefined && !existsSync(join(options.app, "cdk.json"))) {
  console.error(
    `local-cloud: ${options.app} has no cdk.json: run it in a CDK app's directory, or pass --app DIR or --assembly DIR (see --help)`,
  );
  process.exit(2);
}
const { context, concurrency } = options;

// From the process's start: loading modules counts too.
const started = performance.timeOrigin;
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const localDir = options.dataDir;
mkdirSync(localDir, { recursive: true });
const workDir = join(localDir, "work");

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
    // Ctrl-C ends it as a shell expects of an interrupted command (128 + SIGINT); a SIGTERM is the
    // ordinary way to stop a service.
    process.exit(signal === "SIGINT" ? 130 : 0);
  });
}

console.log(`local cloud: ${options.app ? `app ${options.app}` : `assembly ${options.assembly}`}`);
console.log(`[${elapsed()}] starting DynamoDB Local and the SQS emulator...`);
// The engines boot in their own process while this one synthesizes.
const enginesStarting = startEngines({
  dynamodbPort: options.ports.dynamodb,
  sqsPort: options.ports.sqs,
  dataDir: options.inMemory ? undefined : join(localDir, "dynamodb"),
});
const modulesStarted = Date.now();
const [{ AppError, assemblyDirFor, readStack, synthesizeAppInBackground }, { startLocalCloud }] =
  await Promise.all([import("./app.ts"), import("./cloud.ts")]);
const modulesAt = Date.now();
// A failed synthesis exits the process, and the engines' exit hook stops the JVM.
const stack = await (async () => {
  try {
    if (options.assembly) return readStack(options.assembly, options.stack);
    const app = options.app as string;
    const outdir = assemblyDirFor(app);
    const { cachedAssembly, rememberAssembly, sourceHash } = await import("./assembly-cache.ts");
    const key = sourceHash(app, JSON.stringify(context));
    if (cachedAssembly(outdir, key)) {
      console.log(`[${elapsed()}] reusing the assembly of the last start (nothing that feeds it changed)`);
      return readStack(outdir, options.stack);
    }
    console.log(`[${elapsed()}] synthesizing ${app} with its cdk.json into ${outdir}...`);
    await synthesizeAppInBackground(app, outdir, context);
    rememberAssembly(outdir, key);
    return readStack(outdir, options.stack);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
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

// The app's console plug-ins, named in its cdk.json (context "localCloud:consolePlugins", paths from the
// app's directory): an app's own panels beside the console's generic ones.
const consolePlugins = await (async () => {
  const appDir = options.app;
  if (!appDir || !existsSync(join(appDir, "cdk.json"))) return [];
  const named = JSON.parse(readFileSync(join(appDir, "cdk.json"), "utf8")).context?.[
    "localCloud:consolePlugins"
  ];
  if (!Array.isArray(named)) return [];
  return Promise.all(
    named.map(async (path: string) => {
      const module = await import(pathToFileURL(resolve(appDir, path)).href);
      if (typeof module.default !== "function")
        throw new Error(`console plug-in ${path}: its default export is not a function`);
      return module.default;
    }),
  );
})();
const cloud = await startLocalCloud({
  consolePlugins,
  stack,
  engines,
  workDir,
  httpPort: options.ports.http,
  lambdaPort: options.ports.lambda,
  defaultConcurrency: concurrency,
  runtimes,
  log: (line) => console.error(`[local] ${line}`),
  functionLog: options.quiet ? undefined : (id, line) => console.log(`[${id}] ${line}`),
});
const createdAt = Date.now();
running.push(() => cloud.stop());
if (options.inspect) {
  const { fn: wanted, port } = options.inspect;
  const fn =
    cloud.functions.find((candidate) => [candidate.logicalId, candidate.name].includes(wanted)) ??
    byConstructPath(cloud.functions, (candidate) => candidate.id, wanted, "-");
  if (!fn) {
    console.error(
      `local-cloud: --inspect ${wanted} names no function of the stack (its functions: ${cloud.functions.map((candidate) => candidate.id).join(", ")})`,
    );
    for (const stop of running.reverse()) await stop().catch(() => {});
    process.exit(2);
  }
  fn.inspect(port);
}
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
list(
  "HTTP API routes",
  cloud.routes.map(
    (route) =>
      `${route.routeKey.padEnd(40)} -> ${route.fn?.id ?? `mock integration (${route.mock?.status})`}`,
  ),
);
list(
  "WebSocket APIs",
  cloud.webSocketApis.map(
    (api) =>
      `${api.url.padEnd(40)} ${api.routes.map((route) => `${route.routeKey} -> ${route.fn.id}`).join(", ")}`,
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
  "topics",
  cloud.topics.map((topic) => topic.arn),
);
list(
  "SNS subscriptions",
  cloud.subscriptions.map(
    (subscription) =>
      `${subscription.topicArn.split(":").at(-1)} -> ${subscription.protocol} ${subscription.protocol === "sqs" ? subscription.target.split(":").at(-1) : subscription.target}${subscription.raw ? " (raw)" : ""}${subscription.filterPolicy ? ` filter ${subscription.filterPolicy}` : ""}`,
  ),
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
// Routes with IAM authorization take SigV4 with the local credentials: say how to sign a request.
const iamRoute = cloud.routes.find((route) => route.authorization === "AWS_IAM" && route.kind === "http");
const exampleRoute = cloud.routes.find(
  (route) =>
    route.authorization === "NONE" && route.kind === "http" && route.method === "GET" && !route.params.length,
);
const examplePath = (route: { path?: string }) =>
  (route.path ?? "/").replace(/\{([^}+]+)\+?\}/g, (_, name: string) => name);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
console.log(
  `\nwhere the time went: Node.js and the first modules ${seconds(modulesStarted - started)}, the local cloud's modules ${seconds(modulesAt - modulesStarted)}, synthesis ${seconds(synthesizedAt - modulesAt)}, then waiting for the engines (started in parallel; DynamoDB Local ${{ mapped: "with its class archive", building: "without a class archive: one is being built in the background for the next start", none: "without a class archive" }[engines.dynamodbClassArchive]}) ${seconds(enginesAt - synthesizedAt)}, resources and functions ${seconds(createdAt - enginesAt)}, warming ${seconds(warmedAt - createdAt)} (the engines: ${engineRounds} rounds of writes, reads and messages; ${[...warmTimes].map(([id, ms]) => `${id} ${seconds(ms)}`).join(", ")})`,
);
console.log(`
ready in ${elapsed()}
  HTTP API         ${cloud.apiUrl}${exampleRoute ? `        e.g. curl ${cloud.apiUrl}${examplePath(exampleRoute)}` : ""}${
    iamRoute
      ? `
                   routes with IAM authorization need SigV4 with the local credentials, e.g.
                   curl --aws-sigv4 aws:amz:us-east-1:execute-api --user ${cloud.accessKeyId}:local ${cloud.apiUrl}${examplePath(iamRoute)}`
      : ""
  }
${cloud.webSocketApis.map((api) => `  WebSocket API    ${api.url}   (@connections: ${api.url.replace(/^ws/, "http")}/@connections/{connectionId})\n`).join("")}  console          ${cloud.apiUrl}/_console   (watch the protocols; local only)
  Lambda API       ${cloud.lambdaEndpoint}   (AWS_ENDPOINT_URL_LAMBDA; faults: PUT /_local/faults/{functionId})
  DynamoDB Local   ${cloud.dynamodbEndpoint}   (access key id "${cloud.accessKeyId}")
  SQS and SNS      ${cloud.sqsEndpoint}   (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_SNS)
  data             ${options.inMemory ? "in memory" : join(localDir, "dynamodb")}${
    options.inspect
      ? `
  inspector        ws://127.0.0.1:${options.inspect.port}   (${cloud.functions.find((fn) => fn.inspectPort)?.id}: attach with chrome://inspect or your editor)`
      : ""
  }
Ctrl-C stops everything.`);

if (options.watch) {
  const { watchSources, reloadFunctions } = await import("./watch.ts");
  const { rememberAssembly, sourceHash } = await import("./assembly-cache.ts");
  // The app's sources, or the assembly itself.
  const watched = (options.app ?? options.assembly) as string;
  const outdir = options.app ? assemblyDirFor(options.app) : undefined;
  let current = stack;
  const stopWatching = watchSources(
    resolve(watched),
    async (files) => {
      const began = Date.now();
      const named =
        files.length > 3 ? `${files.slice(0, 3).join(", ")} and ${files.length - 3} more` : files.join(", ");
      console.log(`[watch] ${named} changed: ${outdir ? "synthesizing..." : "reading the assembly..."}`);
      try {
        if (outdir && options.app) {
          const key = sourceHash(options.app, JSON.stringify(context));
          await synthesizeAppInBackground(options.app, outdir, context);
          // The next start reuses what this change synthesized.
          rememberAssembly(outdir, key);
        }
        const next = readStack(outdir ?? watched, options.stack);
        const { reloaded, needRestart } = reloadFunctions(
          cloud.functions,
          current.template.Resources ?? {},
          next.template.Resources ?? {},
          next.assemblyDir,
          workDir,
        );
        current = next;
        // The next invocation should not pay the cold start: one environment each, in the background.
        for (const fn of cloud.functions) if (reloaded.includes(fn.id)) void fn.prewarm(1);
        console.log(
          `[watch] ${reloaded.length ? `reloaded ${reloaded.join(", ")}` : "no function's code changed"} (${((Date.now() - began) / 1000).toFixed(1)} s)${needRestart.length ? `; restart to apply the other changes: ${needRestart.join(", ")}` : ""}`,
        );
      } catch (error) {
        console.error(error instanceof AppError ? error.message : String(error));
        console.error("[watch] the change did not synthesize: still running the last version");
      }
    },
    300,
    (path) => (outdir ? resolve(watched, path).startsWith(outdir) : false),
  );
  running.push(async () => stopWatching());
  console.log(`watching ${resolve(watched)} for changes (--watch)`);
}
