import { describe, expect, it } from "vitest";
import { BROKEN_RULES, simulate } from "../simulation/paxos-simulation.ts";

const SEEDS = 2000;

describe("Paxos simulation (lost, delayed, reordered and duplicated messages; crashes; dueling proposers)", () => {
  it(`keeps write-once keys single-valued and every history linearizable over ${SEEDS} seeds`, async () => {
    let answered = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = await simulate(seed);
      if (!result.ok)
        expect.fail(`seed ${seed}: ${result.problem} (npm run sim -- --from ${seed} --seeds 1)`);
      answered += result.completed;
    }
    // The network is hostile but not hopeless: most operations must get an answer.
    expect(answered).toBeGreaterThan(SEEDS * 10);
  }, 300_000);

  it("catches an acceptor that accepts below its promise (negative control)", async () => {
    let caught: number | undefined;
    for (let seed = 1; seed <= 2000 && caught === undefined; seed++) {
      const result = await simulate(seed, { rules: BROKEN_RULES, crashRate: 0 });
      if (!result.ok) caught = seed;
    }
    expect(caught, "the broken acceptor was never caught").toBeDefined();
  }, 300_000);
});
