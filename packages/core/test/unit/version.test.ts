import { describe, expect, it } from "vitest";
import { decodeVersion, encodeVersion, nextVersion, versionTime } from "../../src/version.ts";

describe("hybrid logical clock versions", () => {
  it("follow the wall clock when it moves forward", () => {
    expect(nextVersion(undefined, 1_700_000_000_123)).toBe("001700000000123.000000");
    expect(nextVersion("001700000000123.000004", 1_700_000_000_200)).toBe("001700000000200.000000");
  });

  it("still increase when the clock stands still or steps back", () => {
    let version = nextVersion(undefined, 5_000);
    const seen = [version];
    for (const now of [5_000, 5_000, 4_000, 1, 5_000]) {
      const next = nextVersion(version, now);
      expect(next > version).toBe(true);
      version = next;
      seen.push(version);
    }
    expect(decodeVersion(version)).toEqual({ physical: 5_000, logical: 5 });
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("carries into the next millisecond when the logical counter is full", () => {
    expect(nextVersion(encodeVersion({ physical: 7, logical: 999_999 }), 7)).toBe(
      encodeVersion({ physical: 8, logical: 0 }),
    );
  });

  it("compare as strings in time order and expose their wall-clock time", () => {
    const a = encodeVersion({ physical: 99, logical: 10 });
    const b = encodeVersion({ physical: 100, logical: 0 });
    expect(a < b).toBe(true);
    expect(versionTime(b)).toBe(100);
    expect(() => decodeVersion("12.3")).toThrow(/not a version/);
  });
});
