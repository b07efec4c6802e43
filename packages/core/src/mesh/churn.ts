/**
 * How to score a subsetting algorithm over a resize: the connections it changes against the least any
 * algorithm must change, and the connections per backend against the balance bound. Shared by the unit
 * tests and the report (bench/mesh-report.ts), so both judge by the same rules.
 */

/** Connections opened by the change: for each client, the backends in its new subset it did not use. */
export function churn(before: readonly (readonly string[])[], after: readonly (readonly string[])[]): number {
  let changed = 0;
  after.forEach((subset, client) => {
    const old = new Set(before[client] ?? []);
    for (const backend of subset) if (!old.has(backend)) changed++;
  });
  return changed;
}

/** Connections per backend (0 for a backend nobody uses). */
export function connectionsPerBackend(
  backends: readonly string[],
  subsets: readonly (readonly string[])[],
): Map<string, number> {
  const counts = new Map(backends.map((backend) => [backend, 0]));
  for (const subset of subsets)
    for (const backend of subset) counts.set(backend, (counts.get(backend) ?? 0) + 1);
  return counts;
}

/**
 * The least any algorithm must open: each client must get back to min(size, backends) connections, so it
 * replaces what it lost beyond what it can do without; and the added backends must take their fair share
 * ⌊connections / backends⌋ each for the fleet to be balanced.
 */
export function minimumChurn(
  before: readonly (readonly string[])[],
  removed: ReadonlySet<string>,
  added: number,
  size: number,
  backendsAfter: number,
): number {
  const wanted = Math.min(size, backendsAfter);
  let replace = 0;
  for (const subset of before) {
    const kept = subset.filter((backend) => !removed.has(backend)).length;
    replace += Math.max(0, wanted - kept);
  }
  const share = backendsAfter === 0 ? 0 : Math.floor((before.length * wanted) / backendsAfter);
  return Math.max(replace, added * share);
}

/**
 * Balanced means the busiest backend serves at most 10 % more than the mean; when the mean is small that
 * is less than one connection, so ⌈mean⌉ is allowed too (no assignment can do better).
 */
export const balanceLimit = (mean: number) => Math.max(1.1 * mean, Math.ceil(mean));

/** A subsetting algorithm as the scoring sees it: every client's subset for a backend list (it may keep state). */
export interface Subsetter {
  readonly name: string;
  subsets(backends: readonly string[]): string[][];
}

export interface ResizeScore {
  backends: number;
  removed: number;
  added: number;
  /** Connections the change opened. */
  churn: number;
  /** The least any algorithm must open (see minimumChurn). */
  minimum: number;
  max: number;
  mean: number;
  /** The busiest backend's connections within balanceLimit(mean). */
  balanced: boolean;
}

/**
 * Runs a subsetter through a sequence of backend lists (the first is the starting fleet) and scores each
 * change. `size` is the subset size the subsetter uses, for the balance bound.
 */
export function replay(
  subsetter: Subsetter,
  size: number,
  fleets: readonly (readonly string[])[],
): ResizeScore[] {
  const scores: ResizeScore[] = [];
  let previous = fleets[0] ?? [];
  let before = subsetter.subsets(previous);
  for (const fleet of fleets.slice(1)) {
    const after = subsetter.subsets(fleet);
    const now = new Set(fleet);
    const old = new Set(previous);
    const removed = new Set(previous.filter((backend) => !now.has(backend)));
    const added = fleet.filter((backend) => !old.has(backend)).length;
    const connections = after.length * Math.min(size, fleet.length);
    const loads = [...connectionsPerBackend(fleet, after).values()];
    const max = Math.max(0, ...loads);
    const mean = fleet.length === 0 ? 0 : connections / fleet.length;
    scores.push({
      backends: fleet.length,
      removed: removed.size,
      added,
      churn: churn(before, after),
      minimum: minimumChurn(before, removed, added, size, fleet.length),
      max,
      mean,
      balanced: max <= balanceLimit(mean),
    });
    previous = fleet;
    before = after;
  }
  return scores;
}

/** Churn over its minimum (0 when nothing had to move and nothing did; Infinity when something moved needlessly). */
export const churnRatio = ({ churn, minimum }: ResizeScore) =>
  minimum > 0 ? churn / minimum : churn > 0 ? Number.POSITIVE_INFINITY : 0;
