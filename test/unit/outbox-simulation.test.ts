import { describe, expect, it } from "vitest";
import {
  type OutboxInvariant,
  type OutboxSimulationOptions,
  simulateOutbox,
} from "../simulation/outbox-simulation.ts";
import { firstFailure as firstFailureOf } from "../simulation/seeds.ts";

const SEEDS = 2000;

const firstFailure = (options: OutboxSimulationOptions, seeds = 300) =>
  firstFailureOf((seed) => simulateOutbox(seed, options), seeds);

describe("atomic enqueue and replication under crashes, outages, pauses and duplicates (the real Api, Relay, Replicator and OutboxReplay)", () => {
  it(`publishes a change if and only if it was committed, and applies and counts it once, over ${SEEDS} seeds`, async () => {
    const totals = {
      answered: 0,
      commits: 0,
      crashes: 0,
      relayPointers: 0,
      replayedFromStream: 0,
      replayedFromOutboxTable: 0,
      duplicateDeliveries: 0,
      staleApplies: 0,
      longOutages: 0,
    };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = await simulateOutbox(seed);
      if (!result.ok)
        expect.fail(
          `seed ${seed}: ${result.invariant}: ${result.problem} (replay: npm run sim -- --outbox --from ${seed} --seeds 1)`,
        );
      for (const name of Object.keys(totals) as Array<keyof typeof totals>)
        if (name !== "longOutages") totals[name] += result[name];
      if (result.longOutage) totals.longOutages++;
    }
    // The faults happened, and the paths they exercise ran: the invariants had something to hold against.
    expect(totals.commits).toBeGreaterThan(SEEDS * 5);
    expect(totals.crashes).toBeGreaterThan(SEEDS);
    expect(totals.relayPointers).toBeGreaterThan(SEEDS / 10);
    expect(totals.replayedFromStream).toBeGreaterThan(0);
    expect(totals.replayedFromOutboxTable).toBeGreaterThan(0);
    expect(totals.duplicateDeliveries).toBeGreaterThan(SEEDS * 5);
    expect(totals.staleApplies).toBeGreaterThan(SEEDS * 5);
    expect(totals.longOutages).toBeGreaterThan(SEEDS / 20);
  }, 300_000);

  it("replays a seed exactly: the same seed gives the same execution, step by step", async () => {
    // `npm run sim -- --outbox --from S --seeds 1` must reproduce what a failing run saw, and the totals
    // above must not depend on the run. Ids and jitter come from the seed, not from the machine.
    for (const seed of [5, 10, 318]) {
      const runs = await Promise.all(
        [0, 1].map(async () => {
          const lines: string[] = [];
          const result = await simulateOutbox(seed, { trace: (line) => lines.push(line) });
          return { result, lines };
        }),
      );
      expect(runs[1]!.lines.length).toBeGreaterThan(10);
      expect(runs[1]).toEqual(runs[0]);
    }
  }, 60_000);

  it("counts each change once when a replay from the outbox table resends, 25 hours later, changes that were counted", async () => {
    // Found by this simulation: the counter's claims lived 24 hours while OutboxReplay may resend a
    // change from the outbox table for 7 days; past a day, a resent change was counted again.
    for (let seed = 1; seed <= 100; seed++) {
      const result = await simulateOutbox(seed, { longOutage: true });
      if (!result.ok) expect.fail(`seed ${seed}: ${result.invariant}: ${result.problem}`);
    }
  }, 120_000);

  const controls: Array<[string, OutboxSimulationOptions, OutboxInvariant | OutboxInvariant[]]> = [
    ["an outbox record written apart from its data", { bug: "dual-write" }, "committed-only"],
    ["a replica that applies without the lastUpdate condition", { bug: "unconditional-apply" }, "monotonic"],
    ["a counter that counts without its claim", { bug: "unclaimed-count" }, "counted-once"],
    [
      "a write id made per attempt, not from the Idempotency-Key",
      { bug: "fresh-write-id" },
      "idempotent-commit",
    ],
    // A change the Relay drops is missing on the replicas (converged) or, once a later change of its key
    // reached them, missing from the key's count (counted-once): which one a seed shows first varies.
    ["a Relay that reports no failures", { bug: "relay-ignores-failures" }, ["converged", "counted-once"]],
    [
      "claims that expire before a replay may resend their change",
      { bug: "short-claim-retention", longOutage: true },
      "counted-once",
    ],
  ];
  for (const [name, options, invariant] of controls) {
    it(`catches ${name} (negative control: ${[invariant].flat().join(" or ")})`, async () => {
      const failure = await firstFailure(options);
      expect(failure, "the broken world was never caught").toBeDefined();
      expect([invariant].flat()).toContain(failure!.invariant);
    }, 120_000);
  }
});
