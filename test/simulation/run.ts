/** `npm run sim -- [--seeds N] [--from S] [--broken]`: the Paxos simulation over many seeds. */
import { parseArgs } from "node:util";
import { BROKEN_RULES, simulate } from "./paxos-simulation.ts";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "100000" },
    from: { type: "string", default: "1" },
    broken: { type: "boolean", default: false },
  },
});
const seeds = Number(values.seeds);
const from = Number(values.from);
const started = Date.now();
let operations = 0;
let completed = 0;
for (let seed = from; seed < from + seeds; seed++) {
  const result = await simulate(seed, values.broken ? { rules: BROKEN_RULES } : {});
  operations += result.operations;
  completed += result.completed;
  if (!result.ok) {
    console.error(
      `seed ${seed}: ${result.problem}. Reproduce: npm run sim -- --from ${seed} --seeds 1${values.broken ? " --broken" : ""}`,
    );
    process.exit(1);
  }
  if ((seed - from + 1) % 5000 === 0) {
    console.log(`${seed - from + 1}/${seeds} seeds, ${((Date.now() - started) / 1000).toFixed(0)}s`);
  }
}
console.log(
  `${seeds} seeds passed: ${operations} operations (${completed} answered), no two values chosen, every history linearizable, in ${((Date.now() - started) / 1000).toFixed(1)}s`,
);
