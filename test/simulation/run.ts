/**
 * `npm run sim -- [--paxos | --leases | --outbox] [--seeds N] [--from S] [--broken]`: the seeded
 * simulations over many seeds (all three by default, 100,000 seeds each). A failure prints the seed and
 * the command that replays it. `--broken` runs a deliberately broken world, which must fail.
 */
import { parseArgs } from "node:util";
import { simulateLeases } from "./lease-simulation.ts";
import { simulateOutbox } from "./outbox-simulation.ts";
import { BROKEN_RULES, simulate } from "./paxos-simulation.ts";

const USAGE = `usage: npm run sim -- [--paxos] [--leases] [--outbox] [--seeds N] [--from S] [--broken]
  --paxos, --leases, --outbox   the simulations to run (default: all three)
  --seeds N                     how many seeds each, a whole number from 1 (default 100000)
  --from S                      the first seed, a whole number (default 1)
  --broken                      a deliberately broken world, which must fail
exit status: 0 when every seed passed, 1 on a failing seed, 2 for a bad option`;

/** A bad option: one line, exit status 2 (as every command of the project). */
function refuse(message: string): never {
  console.error(`npm run sim: ${message} (see --help)`);
  process.exit(2);
}

let values: {
  seeds: string;
  from: string;
  broken: boolean;
  paxos: boolean;
  leases: boolean;
  outbox: boolean;
  help?: boolean;
};
try {
  ({ values } = parseArgs({
    allowPositionals: false,
    options: {
      seeds: { type: "string", default: "100000" },
      from: { type: "string", default: "1" },
      broken: { type: "boolean", default: false },
      paxos: { type: "boolean", default: false },
      leases: { type: "boolean", default: false },
      outbox: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (error) {
  refuse((error as Error).message.split("\n")[0]!);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!/^[1-9]\d{0,8}$/.test(values.seeds))
  refuse(`--seeds takes a whole number from 1, got ${JSON.stringify(values.seeds)}`);
if (!/^\d{1,9}$/.test(values.from)) refuse(`--from takes a whole number, got ${JSON.stringify(values.from)}`);
const seeds = Number(values.seeds);
const from = Number(values.from);
const all = !values.paxos && !values.leases && !values.outbox;

async function run(
  name: "paxos" | "leases" | "outbox",
  one: (seed: number) => Promise<{ ok: boolean; problem?: string }>,
) {
  const started = Date.now();
  for (let seed = from; seed < from + seeds; seed++) {
    // A run that throws is a failure of its seed like any other: say which, and how to replay it.
    const result = await one(seed).catch((error: unknown) => ({
      ok: false,
      problem: `it threw ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    }));
    if (!result.ok) {
      console.error(
        `${name} seed ${seed}: ${result.problem}. Replay: npm run sim -- --${name} --from ${seed} --seeds 1${values.broken ? " --broken" : ""}`,
      );
      process.exit(1);
    }
    if ((seed - from + 1) % 5000 === 0)
      console.log(
        `${name}: ${seed - from + 1}/${seeds} seeds, ${((Date.now() - started) / 1000).toFixed(0)}s`,
      );
  }
  console.log(`${name}: ${seeds} seeds passed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

if (values.paxos || all) {
  let operations = 0;
  let completed = 0;
  await run("paxos", async (seed) => {
    const result = await simulate(seed, values.broken ? { rules: BROKEN_RULES } : {});
    operations += result.operations;
    completed += result.completed;
    return { ok: result.ok, problem: result.problem };
  });
  console.log(
    `paxos: ${operations} operations (${completed} answered); one value per write-once key, won exact, every history linearizable`,
  );
}
if (values.leases || all) {
  await run("leases", async (seed) => {
    const result = await simulateLeases(seed, values.broken ? { clockOffsetMs: 400 } : {});
    return { ok: result.ok, problem: result.violation };
  });
  console.log("leases: never two holders at once, tokens grow, no state write with an older token");
}
if (values.outbox || all) {
  const totals = {
    commits: 0,
    crashes: 0,
    relayPointers: 0,
    replayedFromOutboxTable: 0,
    duplicateDeliveries: 0,
  };
  let longOutages = 0;
  await run("outbox", async (seed) => {
    const result = await simulateOutbox(seed, values.broken ? { bug: "short-claim-retention" } : {});
    for (const name of Object.keys(totals) as Array<keyof typeof totals>) totals[name] += result[name];
    if (result.longOutage) longOutages++;
    return { ok: result.ok, problem: result.ok ? undefined : `${result.invariant}: ${result.problem}` };
  });
  console.log(
    `outbox: ${totals.commits} commits, ${totals.crashes} crashes, ${totals.relayPointers} batches given up and replayed (${totals.replayedFromOutboxTable} records from the outbox table, ${longOutages} seeds with a 25-hour outage), ${totals.duplicateDeliveries} duplicate deliveries; converged, committed-only, monotonic, counted once, idempotent commits`,
  );
}
