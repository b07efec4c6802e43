import { describe, expect, it } from "vitest";
import {
  BROKEN_RULES,
  type Invariant,
  type SimulationOptions,
  simulate,
} from "../simulation/paxos-simulation.ts";
import { firstFailure as firstFailureOf } from "../simulation/seeds.ts";

const SEEDS = 2000;

/** The first seed (of `seeds`) on which the simulation with `options` fails. */
const firstFailure = (options: SimulationOptions, seeds = 1000) =>
  firstFailureOf((seed) => simulate(seed, options), seeds);

describe("Paxos simulation (the real Proposer and registers; lossy network, crashes, late accepts)", () => {
  it(`keeps every invariant over ${SEEDS} seeds, and the world is as wide as promised`, async () => {
    const unanswered: Record<string, number> = {};
    let operations = 0;
    let answered = 0;
    let messages = 0;
    let late = 0;
    let combined = 0;
    let fallbacks = 0;
    let crowds = 0;
    let overflowingKeys = 0;
    const api = { seeds: 0, operations: 0, httpRequests: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = await simulate(seed);
      if (!result.ok)
        expect.fail(
          `seed ${seed}: ${result.problem} (replay: npm run sim -- --paxos --from ${seed} --seeds 1)`,
        );
      operations += result.operations;
      answered += result.completed;
      messages += result.messages;
      late += result.lateMessages;
      combined += result.combinedCalls;
      fallbacks += result.fallbackPromises;
      if (result.maxProposersPerKey >= 40) crowds++;
      if (result.maxWritesPerKey > 60) overflowingKeys++;
      if (result.path === "api") {
        api.seeds++;
        api.operations += result.operations;
        api.httpRequests += result.httpRequests;
      }
      for (const [code, count] of Object.entries(result.unanswered))
        unanswered[code] = (unanswered[code] ?? 0) + count;
    }
    expect(late / messages).toBeGreaterThanOrEqual(0.1);
    // About half the seeds ran the whole stack, whose client retried lost requests and replies.
    expect(api.seeds).toBeGreaterThan(SEEDS / 3);
    expect(api.httpRequests).toBeGreaterThan(api.operations * 1.05);
    // Calls on one key through one proposer were combined into shared rounds, and checked like the rest.
    expect(combined).toBeGreaterThan(operations / 100);
    // Stale warm attempts had their rejections promise fallback ballots (a prepare in the same message).
    expect(fallbacks).toBeGreaterThan(operations / 100);
    expect(crowds).toBeGreaterThan(SEEDS / 20);
    expect(overflowingKeys).toBeGreaterThan(SEEDS / 20);
    // The network is hostile but not hopeless: most operations get an answer, and OutcomeUnknown for an
    // adoptable attempt of ours buried under more than 32 writes stays rare. (A set that gives up while
    // an attempt of its own may still be adopted answers OutcomeUnknown too, counted apart.)
    expect(answered / operations).toBeGreaterThan(0.6);
    expect(unanswered.OutcomeUnknown ?? 0).toBeLessThan(operations / 500);
    expect(Object.keys(unanswered).sort()).toEqual(
      expect.arrayContaining(["Contention", "NoQuorum", "crashed", "unknown OutcomeUnknown"]),
    );
  }, 300_000);

  const controls: Array<[string, SimulationOptions, Invariant]> = [
    [
      "an acceptor that accepts below its promise, on a write-once key",
      { rules: BROKEN_RULES, workload: "once", crashRate: 0, path: "direct" },
      "write-once-single-value",
    ],
    [
      "an acceptor that accepts below its promise, on a register",
      { rules: BROKEN_RULES, workload: "long", crashRate: 0, path: "direct" },
      "linearizable",
    ],
    [
      "a register that applies a change again when its outcome was unknown",
      { bug: "retry-unknown", path: "direct" },
      "linearizable",
    ],
    ["a write-once answer that always says won", { bug: "always-won", path: "direct" }, "write-once-won"],
    [
      "an Api that runs a request again after a dead run without telling the register (a second write)",
      { bug: "rerun-unflagged", path: "api", workload: "long" },
      "linearizable",
    ],
    [
      "a proposer that goes to phase 2 on a minority of fallback promises",
      { bug: "minority-fallback" },
      "linearizable",
    ],
    [
      "a proposer that combines calls by applying each change to the round's state (lost updates)",
      { bug: "combine-from-current" },
      "linearizable",
    ],
  ];
  for (const [name, options, invariant] of controls) {
    it(`catches ${name} (negative control: ${invariant})`, async () => {
      const failure = await firstFailure(options);
      expect(failure, "the broken variant was never caught").toBeDefined();
      expect(failure!.invariant).toBe(invariant);
    }, 120_000);
  }

  it("depends on the linearizability check: without it the broken register goes unnoticed", async () => {
    expect(
      await firstFailure({ bug: "retry-unknown", path: "direct", checkLinearizability: false }, 200),
    ).toBeUndefined();
  }, 120_000);
});
