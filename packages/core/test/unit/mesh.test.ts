import { describe, expect, it } from "vitest";
import { moduloHash, rendezvous } from "../../src/mesh/hashing.ts";
import { seededRandom } from "../../src/mesh/random.ts";
import { deterministicSubset, randomSubset } from "../../src/mesh/subsetting.ts";

const names = (n: number, prefix = "b") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("deterministic subsetting", () => {
  it("gives every backend the same number of clients when the SRE book says so", () => {
    const backends = names(300);
    const counts = new Map(backends.map((backend) => [backend, 0]));
    for (let client = 0; client < 300; client++) {
      const subset = deterministicSubset(backends, client, 10);
      expect(new Set(subset).size).toBe(10);
      for (const backend of subset) counts.set(backend, counts.get(backend)! + 1);
    }
    expect(new Set(counts.values())).toEqual(new Set([10]));
  });

  it("stays within one of even otherwise, and is the same for the same client in any backend order", () => {
    const backends = names(97);
    const counts = new Map(backends.map((backend) => [backend, 0]));
    for (let client = 0; client < 250; client++)
      for (const backend of deterministicSubset(backends, client, 8))
        counts.set(backend, counts.get(backend)! + 1);
    const values = [...counts.values()].filter((count) => count > 0);
    expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(
      Math.ceil(250 / Math.floor(97 / 8)) - Math.floor(250 / Math.floor(97 / 8)) + 1,
    );
    expect(deterministicSubset([...backends].reverse(), 17, 8)).toEqual(deterministicSubset(backends, 17, 8));
  });

  it("gives all backends when there are no more than the subset size, and rejects bad arguments", () => {
    expect(deterministicSubset(["a", "b"], 5, 3)).toEqual(["a", "b"]);
    expect(() => deterministicSubset(["a"], -1, 1)).toThrow();
    expect(() => deterministicSubset(["a"], 0, 0)).toThrow();
  });
});

describe("random subsetting", () => {
  it("picks distinct backends, reproducibly from a seed", () => {
    const subset = randomSubset(names(50), 10, seededRandom(7));
    expect(new Set(subset).size).toBe(10);
    expect(randomSubset(names(50), 10, seededRandom(7))).toEqual(subset);
  });
});

describe("rendezvous hashing", () => {
  const keys = names(20_000, "session-");

  it("is balanced over the servers", () => {
    const servers = names(10, "server-");
    const load = new Map<string, number>();
    for (const key of keys)
      load.set(rendezvous(key, servers)!, (load.get(rendezvous(key, servers)!) ?? 0) + 1);
    for (const count of load.values()) expect(Math.abs(count - 2000)).toBeLessThan(2000 * 0.1);
  });

  it("moves only the keys of a removed server, and only about 1/(n+1) of them to an added one", () => {
    const before = names(10, "server-");
    const after = [...before, "server-10"];
    let moved = 0;
    for (const key of keys) {
      const a = rendezvous(key, before)!;
      const b = rendezvous(key, after)!;
      if (a !== b) {
        moved++;
        expect(b).toBe("server-10");
      }
    }
    expect(moved / keys.length).toBeGreaterThan(0.07);
    expect(moved / keys.length).toBeLessThan(0.115);
    const without = before.filter((server) => server !== "server-3");
    for (const key of keys.slice(0, 2000)) {
      const a = rendezvous(key, before)!;
      if (a !== "server-3") expect(rendezvous(key, without)).toBe(a);
    }
  });

  it("unlike modulo hashing, which moves most keys", () => {
    const before = names(10, "server-");
    const after = [...before, "server-10"];
    const moved = keys.filter((key) => moduloHash(key, before) !== moduloHash(key, after)).length;
    expect(moved / keys.length).toBeGreaterThan(0.8);
    expect(rendezvous("x", [])).toBeUndefined();
  });
});
