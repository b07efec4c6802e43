import { describe, expect, it } from "vitest";
import {
  assignSlots,
  planFor,
  recomputedSlots,
  SubsetPlan,
  slotSubset,
  slotSubsetter,
} from "../../src/mesh/balanced.ts";
import { churnRatio, connectionsPerBackend, type ResizeScore, replay } from "../../src/mesh/churn.ts";
import { seededRandom } from "../../src/mesh/random.ts";

/** Churn bound of the issue: a resize changes at most twice the connections it must. */
const CHURN_BOUND = 2;

interface Fleet {
  clients: number;
  backends: number;
  size: number;
  fleets: string[][];
}

/**
 * A seeded fleet of 10–1,000 clients and 10–1,000 backends going through 50 resize events: one backend
 * added or removed (a random one: backends fail anywhere), ten at once either way, or one replaced.
 */
function randomFleet(seed: number): Fleet {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const clients = between(10, 1000);
  const backends = between(10, 1000);
  const size = between(1, 20);
  let next = 0;
  const fresh = () => `backend-${seed}-${next++}`;
  let live = Array.from({ length: backends }, fresh);
  const fleets = [live];
  const removeOne = () => {
    const victim = Math.floor(random() * live.length);
    live = live.filter((_, i) => i !== victim);
  };
  for (let event = 0; event < 50; event++) {
    const kind = between(0, 4);
    if (kind === 0) live = [...live, fresh()];
    else if (kind === 1 && live.length > 1) removeOne();
    else if (kind === 2) live = [...live, ...Array.from({ length: 10 }, fresh)];
    else if (kind === 3 && live.length > 10) for (let i = 0; i < 10; i++) removeOne();
    else {
      removeOne();
      live = [...live, fresh()];
    }
    fleets.push(live);
  }
  return { clients, backends, size, fleets };
}

const worstRatio = (scores: ResizeScore[]) => Math.max(...scores.map(churnRatio));

describe("slot subsetting", () => {
  const seeds = Array.from({ length: 16 }, (_, i) => i + 1);

  it.each(seeds)(
    "stays balanced and within twice the minimum churn over 50 resizes (fleet seed %i)",
    (seed) => {
      const { clients, size, fleets } = randomFleet(seed);
      const scores = replay(slotSubsetter(clients, size), size, fleets);
      expect(scores).toHaveLength(50);
      for (const [event, score] of scores.entries()) {
        const context = { seed, event, clients, size, ...score };
        expect(score.balanced, JSON.stringify(context)).toBe(true);
        expect(churnRatio(score), JSON.stringify(context)).toBeLessThanOrEqual(CHURN_BOUND);
      }
    },
  );

  it("fails the churn bound when the slots are recomputed from scratch (the check can fail)", () => {
    for (const seed of [1, 2, 3]) {
      const { clients, size, fleets } = randomFleet(seed);
      const naive = slotSubsetter(clients, size, (_, live) => recomputedSlots(live), "recomputed");
      expect(worstRatio(replay(naive, size, fleets))).toBeGreaterThan(CHURN_BOUND);
    }
  });

  it("moves the minimum when one joins or the newest leaves, at most twice that when another leaves (300 × 300 × 10)", () => {
    const fleet = Array.from({ length: 300 }, (_, i) => `b${i}`);
    const scores = replay(slotSubsetter(300, 10), 10, [fleet, [...fleet, "b300"], fleet, fleet.slice(1)]);
    // b300 joins and takes ⌊3000/301⌋ = 9 connections; leaving, it gives them back; b0 leaving moves
    // its 10 clients to b299 (which takes its slot) and gives b299's 9 connections back.
    expect(scores.map((score) => score.minimum)).toEqual([9, 9, 10]);
    expect(scores.map((score) => score.churn)).toEqual([9, 9, 18]);
  });

  it("puts exactly ⌊M·k/N⌋ or ⌈M·k/N⌉ connections on every backend, for any count", () => {
    for (const [clients, size, backends] of [
      [300, 10, 300],
      [1000, 3, 7],
      [10, 2, 1000],
      [977, 20, 331],
      [50, 25, 10],
    ] as const) {
      const list = Array.from({ length: backends }, (_, slot) => ({ serverId: `s${slot}`, slot }));
      const subsets = Array.from({ length: clients }, (_, client) => slotSubset(list, client, clients, size));
      for (const subset of subsets) expect(new Set(subset).size).toBe(Math.min(size, backends));
      const total = clients * Math.min(size, backends);
      const loads = [
        ...connectionsPerBackend(
          list.map((b) => b.serverId),
          subsets,
        ).values(),
      ];
      expect(Math.min(...loads)).toBe(Math.floor(total / backends));
      expect(Math.max(...loads)).toBe(Math.ceil(total / backends));
    }
  });

  it("is a function of the slotted list alone: the same in any order, from any fresh plan", () => {
    const list = Array.from({ length: 40 }, (_, slot) => ({ serverId: `s${slot}`, slot }));
    const shuffled = [...list].reverse();
    const fresh = new SubsetPlan(25, 4).slotsOf(7, 40).map((slot) => `s${slot}`);
    expect(slotSubset(shuffled, 7, 25, 4)).toEqual(slotSubset(list, 7, 25, 4));
    expect(slotSubset(list, 7, 25, 4)).toEqual(fresh);
    // A plan extended step by step answers as one built at once.
    const stepwise = planFor(25, 4);
    for (let n = 1; n <= 40; n++) stepwise.slotsOf(3, n);
    expect(stepwise.slotsOf(3, 40)).toEqual(new SubsetPlan(25, 4).slotsOf(3, 40));
  });

  it("spreads subsets about as well as random ones, so a query of death stays contained", () => {
    const list = Array.from({ length: 300 }, (_, slot) => ({ serverId: `s${slot}`, slot }));
    const subsets = Array.from({ length: 300 }, (_, client) => new Set(slotSubset(list, client, 300, 10)));
    // Clients that share every backend with client 0 go down with it; random subsets make that rare.
    for (const origin of [0, 17, 150]) {
      const crashed = subsets[origin]!;
      const down = subsets.filter((subset) => [...subset].every((backend) => crashed.has(backend))).length;
      expect(down).toBeLessThanOrEqual(3);
    }
  });

  it("keeps slots dense and survivors in place", () => {
    const random = seededRandom(99);
    let slots = assignSlots(new Map(), ["a", "b", "c", "d", "e"]);
    expect([...slots.values()].sort()).toEqual([0, 1, 2, 3, 4]);
    for (let round = 0; round < 200; round++) {
      const live = [...slots.keys()].filter(() => random() > 0.2);
      for (let i = 0; i < Math.floor(random() * 4); i++) live.push(`n${round}-${i}`);
      const next = assignSlots(slots, live);
      expect([...next.values()].sort((a, b) => a - b)).toEqual(live.map((_, i) => i));
      for (const [id, slot] of slots) if (next.has(id) && slot < live.length) expect(next.get(id)).toBe(slot);
      slots = next;
    }
  });

  it("rejects bad arguments and slots that are not 0..N-1", () => {
    expect(() => new SubsetPlan(0, 3)).toThrow(RangeError);
    expect(() => new SubsetPlan(3, 0)).toThrow(RangeError);
    expect(() => planFor(3, 2).slotsOf(3, 5)).toThrow(RangeError);
    expect(() => slotSubset([{ serverId: "a", slot: 1 }], 0, 3, 2)).toThrow(RangeError);
    expect(() =>
      slotSubset(
        [
          { serverId: "a", slot: 0 },
          { serverId: "b", slot: 0 },
        ],
        0,
        3,
        2,
      ),
    ).toThrow(RangeError);
    expect(slotSubset([], 0, 3, 2)).toEqual([]);
  });
});
