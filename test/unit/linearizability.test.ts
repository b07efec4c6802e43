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

describe("linearizability checker: answers that must be refused", () => {
  const entry = (op: HistoryEntry["op"], call: number, ret: number, output: HistoryEntry["output"]) => ({
    op,
    call,
    ret,
    output,
  });

  it("refuses a set answered with the wrong version", () => {
    const history = [set("a", 0, 1, 1), set("b", 2, 3, 3)];
    expect(checkLinearizable(history).linearizable).toBe(false);
    // Concurrent with an unanswered set, version 3 is possible.
    expect(
      checkLinearizable([set("a", 0, 1, 1), set("x", 0, undefined), set("b", 2, 3, 3)]).linearizable,
    ).toBe(true);
  });

  it("refuses a failed compare-and-set answered with the wrong version or value", () => {
    const cas = (output: HistoryEntry["output"]) =>
      entry({ kind: "set", value: "b", ifVersion: 5 }, 2, 3, output);
    expect(
      checkLinearizable([set("a", 0, 1, 1), cas({ kind: "set", ok: false, version: 1, value: "a" })])
        .linearizable,
    ).toBe(true);
    expect(
      checkLinearizable([set("a", 0, 1, 1), cas({ kind: "set", ok: false, version: 2, value: "a" })])
        .linearizable,
    ).toBe(false);
    expect(
      checkLinearizable([set("a", 0, 1, 1), cas({ kind: "set", ok: false, version: 1, value: "z" })])
        .linearizable,
    ).toBe(false);
    // A compare-and-set whose version matched cannot fail.
    const matching = entry({ kind: "set", value: "b", ifVersion: 1 }, 2, 3, {
      kind: "set",
      ok: false,
      version: 1,
      value: "a",
    });
    expect(checkLinearizable([set("a", 0, 1, 1), matching]).linearizable).toBe(false);
  });

  it("refuses a write-once answer with the wrong won", () => {
    const propose = (value: string, call: number, ret: number, chosen: string, won: boolean) =>
      entry({ kind: "propose", value }, call, ret, { kind: "propose", value: chosen, version: 1, won });
    expect(
      checkLinearizable([propose("x", 0, 1, "x", true), propose("y", 2, 3, "x", false)]).linearizable,
    ).toBe(true);
    expect(checkLinearizable([propose("x", 0, 1, "x", false)]).linearizable).toBe(false);
    expect(
      checkLinearizable([propose("x", 0, 1, "x", true), propose("y", 2, 3, "x", true)]).linearizable,
    ).toBe(false);
    // A value chosen by a call that never answered: every answering call lost.
    expect(
      checkLinearizable([{ op: { kind: "propose", value: "x" }, call: 0 }, propose("y", 1, 2, "x", false)])
        .linearizable,
    ).toBe(true);
  });

  it("keeps write-once and rewritable keys apart", () => {
    const conflictOut = { kind: "conflict" } as const;
    const once = entry({ kind: "propose", value: "x" }, 0, 1, {
      kind: "propose",
      value: "x",
      version: 1,
      won: true,
    });
    expect(
      checkLinearizable([once, entry({ kind: "set", value: "y" }, 2, 3, conflictOut)]).linearizable,
    ).toBe(true);
    expect(checkLinearizable([once, set("y", 2, 3, 2)]).linearizable).toBe(false);
    expect(
      checkLinearizable([set("a", 0, 1, 1), entry({ kind: "propose", value: "x" }, 2, 3, conflictOut)])
        .linearizable,
    ).toBe(true);
    expect(
      checkLinearizable([
        set("a", 0, 1, 1),
        entry({ kind: "propose", value: "x" }, 2, 3, { kind: "propose", value: "a", version: 1, won: false }),
      ]).linearizable,
    ).toBe(false);
  });
});
