/**
 * Which backends a client connects to. A full mesh connects every client to every backend: simple, but
 * the connections grow as clients × backends, and a query of death (a request that crashes whatever
 * serves it) sent by one client can take every backend down. Subsetting connects each client to `size`
 * backends only, which bounds both the connections and the blast radius.
 *
 * - Random subsetting: each client picks `size` backends at random. Simple, but uneven: some backends
 *   get many more clients than others.
 * - Deterministic subsetting (Google SRE book, "Load Balancing in the Datacenter"): clients are taken in
 *   rounds of `floor(backends / size)`; each round shuffles the backend list with the round number as
 *   the seed and deals it out in disjoint slices of `size`, one per client of the round. Every round
 *   covers each backend at most once, so connection counts differ by at most one round's worth: with
 *   the clients a multiple of the round size and the backends a multiple of `size`, every backend gets
 *   exactly the same number of clients.
 */
import { seededRandom, shuffle } from "./random.ts";

export function fullMesh(backends: readonly string[]): string[] {
  return [...backends];
}

export function randomSubset(
  backends: readonly string[],
  size: number,
  random: () => number = Math.random,
): string[] {
  return shuffle(backends, random).slice(0, Math.min(size, backends.length));
}

/** The SRE book's algorithm; `clientId` is the client's index (0, 1, 2, ...). */
export function deterministicSubset(backends: readonly string[], clientId: number, size: number): string[] {
  if (!Number.isInteger(clientId) || clientId < 0)
    throw new Error(`client id must be an index, got ${clientId}`);
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`subset size must be a positive integer, got ${size}`);
  if (backends.length <= size) return [...backends];
  const subsetCount = Math.floor(backends.length / size);
  const round = Math.floor(clientId / subsetCount);
  // The list is put in a canonical order first: every client must shuffle the same list.
  const shuffled = shuffle([...backends].sort(), seededRandom(round));
  const subsetId = clientId % subsetCount;
  return shuffled.slice(subsetId * size, subsetId * size + size);
}
