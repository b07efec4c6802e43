import { describe, expect, it } from "vitest";
import { simulateLeases } from "../simulation/lease-simulation.ts";

describe("the lease protocol under clock skew, crashes, pauses and late answers (seeded simulation)", () => {
  it("never lets two servers hold a session at once while clocks stay within the skew bound", () => {
    let assignments = 0;
    let rejected = 0;
    for (let seed = 1; seed <= 1000; seed++) {
      const result = simulateLeases(seed);
      expect(result, `seed ${seed}: ${result.violation}`).toMatchObject({ ok: true });
      assignments += result.assignments;
      rejected += result.rejectedWrites;
    }
    // The runs did reassign sessions and did bounce stale writes: the checks had something to check.
    expect(assignments).toBeGreaterThan(10_000);
    expect(rejected).toBeGreaterThan(0);
  });

  it("catches the violation when clocks drift beyond the bound (the check can fail)", () => {
    const failures = Array.from({ length: 300 }, (_, i) =>
      simulateLeases(i + 1, { clockOffsetMs: 400 }),
    ).filter((result) => !result.ok);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]!.violation).toMatch(/both believe they hold/);
  });
});
