import { describe, expect, it } from "vitest";
import { checkLinearizable, type HistoryEntry } from "../support/linearizability.ts";

const set = (value: unknown, call: number, ret: number | undefined, version?: number): HistoryEntry => ({
  op: { kind: "set", value },
  call,
  ret,
  output: ret === undefined ? undefined : { kind: "set", ok: true, version: version ?? 0 },
});
const get = (call: number, ret: number, version: number, value: unknown): HistoryEntry => ({
  op: { kind: "get" },
  call,
  ret,
  output: version === 0 ? { kind: "get", found: false } : { kind: "get", found: true, version, value },
});

describe("linearizability checker", () => {
  it("accepts a sequential history", () => {
    expect(
      checkLinearizable([set("a", 0, 1, 1), get(2, 3, 1, "a"), set("b", 4, 5, 2), get(6, 7, 2, "b")])
        .linearizable,
    ).toBe(true);
  });

  it("accepts concurrent operations ordered either way", () => {
    // The read overlaps the write: seeing either the old or the new value is fine.
    expect(checkLinearizable([set("a", 0, 1, 1), set("b", 2, 6, 2), get(3, 4, 1, "a")]).linearizable).toBe(
      true,
    );
    expect(checkLinearizable([set("a", 0, 1, 1), set("b", 2, 6, 2), get(3, 4, 2, "b")]).linearizable).toBe(
      true,
    );
  });

  it("rejects a stale read after a completed write", () => {
    expect(checkLinearizable([set("a", 0, 1, 1), set("b", 2, 3, 2), get(4, 5, 1, "a")]).linearizable).toBe(
      false,
    );
  });

  it("rejects a value read back and forth (new, then old) by sequential reads", () => {
    const history = [set("a", 0, 1, 1), set("b", 2, 10, 2), get(3, 4, 2, "b"), get(5, 6, 1, "a")];
    expect(checkLinearizable(history).linearizable).toBe(false);
  });

  it("lets an operation without an answer take effect or not", () => {
    expect(
      checkLinearizable([set("a", 0, 1, 1), set("x", 2, undefined), get(3, 4, 2, "x")]).linearizable,
    ).toBe(true);
    expect(
      checkLinearizable([set("a", 0, 1, 1), set("x", 2, undefined), get(3, 4, 1, "a")]).linearizable,
    ).toBe(true);
    expect(
      checkLinearizable([set("a", 0, 1, 1), set("x", 2, undefined), get(3, 4, 2, "y")]).linearizable,
    ).toBe(false);
  });

  it("checks compare-and-set and write-once answers", () => {
    const cas: HistoryEntry[] = [
      set("a", 0, 1, 1),
      {
        op: { kind: "set", value: "b", ifVersion: 1 },
        call: 2,
        ret: 3,
        output: { kind: "set", ok: true, version: 2 },
      },
      {
        op: { kind: "set", value: "c", ifVersion: 1 },
        call: 4,
        ret: 5,
        output: { kind: "set", ok: true, version: 3 },
      },
    ];
    expect(checkLinearizable(cas).linearizable).toBe(false);
    const twoWinners: HistoryEntry[] = [
      {
        op: { kind: "propose", value: 1 },
        call: 0,
        ret: 3,
        output: { kind: "propose", value: 1, version: 1, won: true },
      },
      {
        op: { kind: "propose", value: 2 },
        call: 1,
        ret: 2,
        output: { kind: "propose", value: 2, version: 1, won: true },
      },
    ];
    expect(checkLinearizable(twoWinners).linearizable).toBe(false);
  });
});
