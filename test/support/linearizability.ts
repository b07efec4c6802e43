/**
 * A linearizability checker for histories of one register (Wing & Gong's search with memoization, as
 * Porcupine does): is there an order of the operations, consistent with real time, in which each
 * operation's answer is what a single register would have answered? Operations without an answer (a
 * crashed client, a timeout, an error) may have taken effect at any point after their call, or never.
 */

export type RegisterOp =
  | { kind: "get" }
  | { kind: "set"; value: unknown; ifVersion?: number }
  | { kind: "propose"; value: unknown };

export type RegisterOutput =
  | { kind: "get"; found: false }
  | { kind: "get"; found: true; version: number; value: unknown }
  | { kind: "set"; ok: true; version: number }
  | { kind: "set"; ok: false; version: number; value: unknown }
  | { kind: "propose"; value: unknown; version: number; won: boolean }
  /** 409 KeyKindConflict: a set on a write-once key, or a propose on a rewritable one. */
  | { kind: "conflict" };

export interface HistoryEntry {
  op: RegisterOp;
  call: number;
  /** Absent when the outcome is unknown. */
  ret?: number;
  output?: RegisterOutput;
}

interface State {
  version: number;
  value: unknown;
  /** Fixed by the first write: a propose makes a write-once key, a set a rewritable one. */
  writeOnce?: boolean;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The next state if `op` could answer `output` in `state`; null if not. No output: any legal answer. */
export function step(state: State, op: RegisterOp, output?: RegisterOutput): State | null {
  switch (op.kind) {
    case "get": {
      if (!output) return state;
      if (output.kind !== "get") return null;
      if (!output.found) return state.version === 0 ? state : null;
      return output.version === state.version && same(output.value, state.value) ? state : null;
    }
    case "set": {
      if (state.writeOnce) return !output || output.kind === "conflict" ? state : null;
      const applies = op.ifVersion === undefined || op.ifVersion === state.version;
      const next = { version: state.version + 1, value: op.value, writeOnce: false };
      if (!output) return applies ? next : state;
      if (output.kind !== "set") return null;
      if (output.ok) return applies && output.version === next.version ? next : null;
      return !applies && output.version === state.version && same(output.value, state.value) ? state : null;
    }
    case "propose": {
      if (state.writeOnce === false) return !output || output.kind === "conflict" ? state : null;
      const next = state.version === 0 ? { version: 1, value: op.value, writeOnce: true } : state;
      if (!output) return next;
      if (output.kind !== "propose") return null;
      const won = state.version === 0;
      return output.won === won && output.version === next.version && same(output.value, next.value)
        ? next
        : null;
    }
  }
}

export interface CheckResult {
  linearizable: boolean;
  /** Search steps taken, to spot histories that are too large to check. */
  explored: number;
}

/** Stands for the value of a write nobody ever read: such writes are interchangeable. */
const UNOBSERVED = Symbol("unobserved");

/**
 * Before the search, operations without an answer are simplified where that changes no verdict:
 * - a read without an answer has no effect: dropped;
 * - sets without an answer whose value no answer ever shows differ only in their call time, so they
 *   form classes (same condition); when one of a class takes effect, the earliest-called one not yet
 *   used can always stand in for it (it was available whenever a later one was). Only that one is tried.
 */
export function checkLinearizable(history: HistoryEntry[], maxExplored = 2_000_000): CheckResult {
  const observed = new Set<string>();
  for (const entry of history) {
    const output = entry.output;
    if (output && "value" in output) observed.add(JSON.stringify(output.value));
  }
  const ops = history
    .filter((entry) => entry.output || entry.op.kind !== "get")
    .map((entry) => {
      const ret = entry.ret ?? Number.POSITIVE_INFINITY;
      const op = entry.op;
      if (entry.output || op.kind !== "set" || observed.has(JSON.stringify(op.value)))
        return { ...entry, ret, op, interchangeable: undefined };
      return {
        ...entry,
        ret,
        op: { ...op, value: UNOBSERVED },
        interchangeable: `set|${op.ifVersion}`,
      };
    })
    .sort((a, b) => a.call - b.call);
  const completed = ops.filter((op) => Number.isFinite(op.ret)).length;
  const seen = new Set<string>();
  let explored = 0;

  const search = (done: boolean[], doneCompleted: number, state: State): boolean => {
    if (doneCompleted === completed) return true;
    if (++explored > maxExplored)
      throw new Error(`history too large to check (${history.length} operations)`);
    const value = state.value === UNOBSERVED ? "?" : JSON.stringify(state.value);
    const memo = `${done.map((d) => (d ? 1 : 0)).join("")}|${state.writeOnce}|${state.version}|${value}`;
    if (seen.has(memo)) return false;
    seen.add(memo);
    // An operation can come next only if it was called before every remaining operation returned.
    let horizon = Number.POSITIVE_INFINITY;
    ops.forEach((op, index) => {
      if (!done[index] && op.ret < horizon) horizon = op.ret;
    });
    const tried = new Set<string>();
    for (let index = 0; index < ops.length; index++) {
      const op = ops[index]!;
      if (done[index] || op.call > horizon) continue;
      if (op.interchangeable) {
        // ops are sorted by call time: the first of its class not yet done is the earliest.
        if (tried.has(op.interchangeable)) continue;
        tried.add(op.interchangeable);
      }
      const next = step(state, op.op, op.output);
      if (!next) continue;
      done[index] = true;
      const found = search(done, doneCompleted + (Number.isFinite(op.ret) ? 1 : 0), next);
      done[index] = false;
      if (found) return true;
    }
    return false;
  };

  const linearizable = search(new Array(ops.length).fill(false), 0, { version: 0, value: undefined });
  return { linearizable, explored };
}
