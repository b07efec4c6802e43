/**
 * Rendezvous (highest random weight) hashing: a key goes to the server with the highest hash of
 * (key, server). We chose it over a ring with virtual nodes because it needs no ring to build or keep in
 * sync (every Api instance computes the same answer from the list of live servers alone), it is
 * balanced in expectation without tuning virtual-node counts, and it is minimally disruptive: removing a
 * server moves only that server's keys, adding one moves about 1/(n+1) of the keys, all to the new one.
 * Its cost, O(n) hashes per lookup, is nothing for the tens of servers a lookup service fronts. Balance
 * and disruption are measured in docs/mesh.md (`npm run mesh:report`).
 */
import { createHash } from "node:crypto";

/** A 64-bit hash of the parts, as a bigint (the first 8 bytes of SHA-256: well mixed and stable). */
export function hash64(...parts: string[]): bigint {
  const digest = createHash("sha256").update(parts.join("\u0000")).digest();
  return digest.readBigUInt64BE(0);
}

/** The server `key` goes to, or undefined when there is none. */
export function rendezvous(key: string, servers: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const server of servers) {
    const weight = hash64(key, server);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && server < best)) {
      best = server;
      bestWeight = weight;
    }
  }
  return best;
}

/** Modulo hashing (hash(key) mod n), the naive baseline the report compares against. */
export function moduloHash(key: string, servers: readonly string[]): string | undefined {
  if (servers.length === 0) return undefined;
  return servers[Number(hash64(key) % BigInt(servers.length))];
}
