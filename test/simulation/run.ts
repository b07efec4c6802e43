/**
 * `npm run sim -- [--paxos | --leases | --outbox] [--seeds N] [--from S] [--broken]`: the seeded
 * simulations over many seeds (all three by default, 100,000 seeds each). A failure prints the seed and
 * the command that replays it. `--broken` runs a deliberately broken world, which must fail.
 */
import { parseArgs } from "node:util";
import { simulateLeases } from "./lease-simulation.ts";
import { simulateOutbox } from "./outbox-simulation.ts";
import { BROKEN_RULES, simulate } from "./paxos-simulation.ts";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "100000" },
    from: { type: "string", default: "1" },
    broken: { type: "boolean", default: false },
    paxos: { type: "boolean", default: false },
    leases: { type: "boolean", default: false },
    outbox: { type: "boolean", default: false },
  },
});
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
