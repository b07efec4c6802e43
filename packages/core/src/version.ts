/**
 * The version of a replicated write, its `lastUpdate`: a hybrid logical clock (HLC) timestamp.
 *
 * A version is `<physical ms, 15 digits>.<logical counter, 6 digits>`, so versions compare as strings
 * (DynamoDB condition expressions compare them with `<`). The primary assigns it when it commits a write:
 * `nextVersion(previous, now)` takes the wall clock when it is ahead of the key's last version, else the
 * last version's physical part with the counter plus one. So a key's versions strictly increase and never
 * repeat even when the wall clock steps back or two writes land in the same millisecond, and they stay
 * close to real time, which makes the replication lag readable.
 */
const PHYSICAL_WIDTH = 15;
const LOGICAL_WIDTH = 6;
const MAX_LOGICAL = 10 ** LOGICAL_WIDTH - 1;

export const VERSION_PATTERN = /^\d{15}\.\d{6}$/;

export interface Hlc {
  physical: number;
  logical: number;
}

export function encodeVersion({ physical, logical }: Hlc): string {
  return `${String(physical).padStart(PHYSICAL_WIDTH, "0")}.${String(logical).padStart(LOGICAL_WIDTH, "0")}`;
}

export function decodeVersion(version: string): Hlc {
  if (!VERSION_PATTERN.test(version)) throw new Error(`not a version: ${version}`);
  const [physical, logical] = version.split(".");
  return { physical: Number(physical), logical: Number(logical) };
}

/** The version after `previous` (the key's current version, if any) at wall-clock time `nowMs`. */
export function nextVersion(previous: string | undefined, nowMs: number): string {
  const last = previous ? decodeVersion(previous) : { physical: 0, logical: 0 };
  if (nowMs > last.physical) return encodeVersion({ physical: Math.floor(nowMs), logical: 0 });
  if (last.logical < MAX_LOGICAL)
    return encodeVersion({ physical: last.physical, logical: last.logical + 1 });
  return encodeVersion({ physical: last.physical + 1, logical: 0 });
}

/** The wall-clock milliseconds a version was assigned at (its physical part). */
export const versionTime = (version: string): number => decodeVersion(version).physical;
