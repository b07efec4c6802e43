/**
 * `npm run bench [-- <suite>...] [--scale F]`: runs benchmark suites against the stack on a fresh local
 * cloud and writes docs/benchmarks.md and docs/bench/<suite>.json (and .svg charts). Suites: paxos,
 * replication, lookup, load (32 clients, mixed), peers (Powertools idempotency and dynamodb-lock-client
 * beside ours), startup (npm start itself, in child processes) and runtimes (worker threads beside the
 * Runtime API's processes) and cost (requests, capacity units and dollars per operation)
 * (default: all).
 * `--scale 0.25` runs a quarter of the operations, for a quick look (its report goes to .local/bench/, and
 * the committed docs are left as they were).
 */
import { parseArgs } from "node:util";
import { benchCost } from "./cost.ts";
import { markScaledRun, startBenchCloud } from "./lib.ts";
import { benchLoad } from "./load.ts";
import { benchLookup } from "./lookup.ts";
import { benchPaxos } from "./paxos.ts";
import { benchPeers } from "./peers.ts";
import { benchReplication } from "./replication.ts";
import { benchRuntimes } from "./runtimes.ts";
import { benchStartup } from "./startup.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const suites: Record<
  string,
  (cloud: Awaited<ReturnType<typeof startBenchCloud>>, scale: number) => Promise<unknown>
> = {
  paxos: benchPaxos,
  replication: benchReplication,
  lookup: benchLookup,
  peers: benchPeers,
};
/** Suites that start the local cloud themselves. */
const standalone: Record<string, (scale: number) => Promise<unknown>> = {
  startup: benchStartup,
  load: benchLoad,
  runtimes: benchRuntimes,
  cost: benchCost,
};

let parsed: { positionals: string[]; values: { scale: string } };
try {
  parsed = parseArgs({ allowPositionals: true, options: { scale: { type: "string", default: "1" } } });
} catch (error) {
  // A bad option: one line, exit status 2 (as every command of the project).
  console.error(`npm run bench: ${(error as Error).message.split("\n")[0]!.split(". To specify")[0]}`);
  process.exit(2);
}
const { positionals, values } = parsed;
// Start-up first: it times `npm start` as a new user meets it, before the other suites have loaded the
// machine (their engines and environments take a while to wind down).
const selected = positionals.length > 0 ? positionals : [...Object.keys(standalone), ...Object.keys(suites)];
for (const name of selected) {
  if (!suites[name] && !standalone[name]) {
    console.error(
      `unknown suite ${name}; suites: ${[...Object.keys(suites), ...Object.keys(standalone)].join(", ")}`,
    );
    process.exit(2);
  }
}
const scale = /^(\d+\.?\d*|\.\d+)$/.test(values.scale) ? Number(values.scale) : Number.NaN;
if (!(scale > 0)) {
  console.error(
    `npm run bench: --scale takes a positive number (e.g. 0.25), got ${JSON.stringify(values.scale)}`,
  );
  process.exit(2);
}
if (scale !== 1) markScaledRun();

for (const name of selected) {
  if (standalone[name]) {
    await standalone[name](scale);
    continue;
  }
  const cloud = await startBenchCloud();
  try {
    await suites[name]!(cloud, scale);
  } finally {
    await cloud.stop();
  }
}
process.exit(0);
