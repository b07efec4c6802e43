/**
 * Slot subsetting: subsets that stay balanced and barely move when backends come and go.
 *
 * Deterministic subsetting (subsetting.ts) balances connections exactly, but one backend more or less
 * reshuffles its rounds and changes nearly every client's subset. Google replaced it for that reason
 * ("Reinventing Backend Subsetting at Google", ACM Queue 2022): its answer gives backends dense, stable
 * indices and lays the subsets out over those indices so that a resize touches few clients. We keep
 * those two ideas and lay the subsets out differently, so that balance is exact rather than close:
 *
 * 1. **Slots.** Each live backend holds a slot, and the slots in use are always exactly 0..N-1.
 *    `assignSlots(previous, live)` keeps each surviving backend in its slot; a backend that leaves opens
 *    a hole, which a backend of a slot ≥ N (the new count) fills; a backend that joins takes a slot left
 *    free (the new top slot when nothing left). The slot map is the only state, and it is owned by whoever owns the backend list
 *    (the lookup service stores it next to the registrations); each client computes its own subset from
 *    the list of (backend, slot) alone, so clients never coordinate.
 * 2. **The plan.** For M clients and subsets of k, the plan says which slots each client uses when there
 *    are N slots. It is built one slot at a time: when slot n joins (n ≥ k), it takes ⌊M·k/(n+1)⌋
 *    connections, one at a time, each from the slot that has the most connections at that moment (the
 *    newest slot first among equals), and each from a different client — among that slot's clients the
 *    one with the lowest hash of (n, client), so that subsets overlap no more than random ones do.
 *
 * What follows (unit-tested in test/unit/mesh-balanced.test.ts, measured in docs/mesh.md):
 * - **Balance.** With N slots, every backend serves ⌊M·k/N⌋ or ⌈M·k/N⌉ connections: the joining slot
 *   takes the floor, and taking from the fullest keeps the others within one of each other.
 * - **Adding a backend** (slot N) changes exactly the connections the new backend takes: the minimum.
 * - **Removing the backend of the highest slot** gives each of its connections back to the slot it came
 *   from: the minimum again.
 * - **Removing any other backend** changes its clients' connections (they now go to the backend that
 *   moves into its slot) and the highest slot's (they get their connection back). The highest slot is
 *   the newest, so it holds the floor ⌊M·k/N⌋, no more than the removed backend: at most twice the
 *   minimum.
 *
 * Recomputing slots from scratch (say, by sorted name) would throw all of that away: the
 * `recomputedSlots` variant exists to show it, in the tests and the report.
 */

/** A backend and the slot it holds; the slots of a list are exactly 0..N-1. */
export interface SlottedBackend {
  serverId: string;
  slot: number;
}

/**
 * The next slot map: survivors keep their slot when it is below the new count; the holes below the new
 * count are filled first by survivors whose slot is now out of range (lowest slot to lowest hole),
 * then by newcomers (in name order).
 */
export function assignSlots(
  previous: ReadonlyMap<string, number>,
  live: Iterable<string>,
): Map<string, number> {
  const liveIds = [...new Set(live)];
  const count = liveIds.length;
  const isLive = new Set(liveIds);
  const next = new Map<string, number>();
  const movers: string[] = [];
  const survivors = [...previous].filter(([id]) => isLive.has(id)).sort((a, b) => a[1] - b[1]);
  for (const [id, slot] of survivors) {
    if (slot < count) next.set(id, slot);
    else movers.push(id);
  }
  const held = new Set(next.values());
  const holes: number[] = [];
  for (let slot = 0; slot < count; slot++) if (!held.has(slot)) holes.push(slot);
  const newcomers = liveIds.filter((id) => !previous.has(id)).sort();
  for (const [i, id] of [...movers, ...newcomers].entries()) next.set(id, holes[i]!);
  return next;
}

/** The naive variant: slots by sorted name, recomputed from scratch each time (what not to do). */
export function recomputedSlots(live: Iterable<string>): Map<string, number> {
  return new Map([...new Set(live)].sort().map((id, slot) => [id, slot]));
}

/** A fast, well-mixed 32-bit hash of two integers (a murmur3-style finalizer). */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The subsets of M clients over N slots, for every N, built lazily as larger N are asked for. Which slots
 * a client uses depends only on (clients, size, N), so every client builds the same plan.
 */
export class SubsetPlan {
  /** Each client's moves in order: at step n (slot n joining), the client's connection to `from` moved to n. */
  private readonly moves: Array<Array<{ step: number; from: number }>>;
  /** The clients of each slot, after the steps built so far. */
  private readonly members: Array<Set<number>> = [];
  private built: number;

  readonly clients: number;
  readonly size: number;

  constructor(clients: number, size: number) {
    this.clients = clients;
    this.size = size;
    if (!Number.isInteger(clients) || clients < 1)
      throw new RangeError(`client count must be a positive integer, got ${clients}`);
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`subset size must be a positive integer, got ${size}`);
    this.moves = Array.from({ length: clients }, () => []);
    const everyone = Array.from({ length: clients }, (_, client) => client);
    for (let slot = 0; slot < size; slot++) this.members.push(new Set(everyone));
    this.built = size;
  }

  /** The slots `client` connects to when there are `slotCount` slots, in ascending order. */
  slotsOf(client: number, slotCount: number): number[] {
    if (!Number.isInteger(client) || client < 0 || client >= this.clients)
      throw new RangeError(`client index must be in 0..${this.clients - 1}, got ${client}`);
    if (!Number.isInteger(slotCount) || slotCount < 0)
      throw new RangeError(`slot count must be a non-negative integer, got ${slotCount}`);
    if (slotCount <= this.size) return Array.from({ length: slotCount }, (_, slot) => slot);
    this.extendTo(slotCount);
    const slots = Array.from({ length: this.size }, (_, slot) => slot);
    for (const { step, from } of this.moves[client]!) {
      if (step >= slotCount) break;
      slots[slots.indexOf(from)] = step;
    }
    return slots.sort((a, b) => a - b);
  }

  /** Builds the steps up to `slotCount` slots. */
  private extendTo(slotCount: number) {
    const total = this.clients * this.size;
    const takenAt = new Int32Array(this.clients).fill(-1);
    for (let step = this.built; step < slotCount; step++) {
      const joining = new Set<number>();
      this.members.push(joining);
      const heap = new SlotHeap(this.members);
      for (let slot = 0; slot < step; slot++) heap.push(slot);
      const skipped: number[] = [];
      let wanted = Math.floor(total / (step + 1));
      while (wanted > 0) {
        const donor = heap.pop();
        if (donor === undefined) break; // cannot happen: fewer than M clients have been taken this step
        let client = -1;
        let lowest = Number.POSITIVE_INFINITY;
        for (const candidate of this.members[donor]!) {
          if (takenAt[candidate] === step) continue;
          const weight = mix(step, candidate);
          if (weight < lowest) {
            lowest = weight;
            client = candidate;
          }
        }
        if (client < 0) {
          skipped.push(donor);
          continue;
        }
        this.members[donor]!.delete(client);
        joining.add(client);
        takenAt[client] = step;
        this.moves[client]!.push({ step, from: donor });
        heap.push(donor);
        wanted--;
      }
      this.built = step + 1;
    }
  }
}

/** A max-heap of slots by (connections, slot number): the fullest first, the newest among equals. */
class SlotHeap {
  private readonly items: number[] = [];
  private readonly members: ReadonlyArray<Set<number>>;

  constructor(members: ReadonlyArray<Set<number>>) {
    this.members = members;
  }

  private before(a: number, b: number) {
    const loadA = this.members[a]!.size;
    const loadB = this.members[b]!.size;
    return loadA !== loadB ? loadA > loadB : a > b;
  }

  push(slot: number) {
    const items = this.items;
    items.push(slot);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let best = i;
        if (left < items.length && this.before(items[left]!, items[best]!)) best = left;
        if (right < items.length && this.before(items[right]!, items[best]!)) best = right;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

const plans = new Map<string, SubsetPlan>();
const PLAN_CACHE = 16;

/** The shared plan for (clients, size): built once per process, extended as needed. */
export function planFor(clients: number, size: number): SubsetPlan {
  const key = `${clients}/${size}`;
  let plan = plans.get(key);
  if (plan) {
    plans.delete(key);
  } else {
    plan = new SubsetPlan(clients, size);
    if (plans.size >= PLAN_CACHE) plans.delete(plans.keys().next().value!);
  }
  plans.set(key, plan);
  return plan;
}

/** Checks that the slots of a list are exactly 0..N-1, each held once, and orders the ids by slot. */
export function bySlot(backends: readonly SlottedBackend[]): string[] {
  const ids: string[] = [];
  for (const { serverId, slot } of backends) {
    if (!Number.isInteger(slot) || slot < 0 || slot >= backends.length || ids[slot] !== undefined)
      throw new RangeError(
        `slots must be exactly 0..${backends.length - 1}, each held once (${serverId}: ${slot})`,
      );
    ids[slot] = serverId;
  }
  return ids;
}

/**
 * The backends `client` (an index in 0..clients-1) connects to, at most `size` of them, computed from the
 * slotted list alone.
 */
export function slotSubset(
  backends: readonly SlottedBackend[],
  client: number,
  clients: number,
  size: number,
): string[] {
  const ids = bySlot(backends);
  return planFor(clients, size)
    .slotsOf(client, ids.length)
    .map((slot) => ids[slot]!);
}

/**
 * Slot subsetting for a whole fleet of clients 0..clients-1, keeping the slot map from one backend list to
 * the next as the lookup service does. `slotting` is how the next slot map is made (assignSlots; the
 * report and tests also pass recomputedSlots to show what recomputing from scratch costs).
 */
export function slotSubsetter(
  clients: number,
  size: number,
  slotting: (
    previous: ReadonlyMap<string, number>,
    live: readonly string[],
  ) => Map<string, number> = assignSlots,
  name = "slot subsetting",
) {
  let slots = new Map<string, number>();
  return {
    name,
    subsets(backends: readonly string[]): string[][] {
      slots = slotting(slots, backends);
      // The list is checked and ordered once for the whole fleet, not once per client.
      const ids = bySlot([...slots].map(([serverId, slot]) => ({ serverId, slot })));
      const plan = planFor(clients, size);
      return Array.from({ length: clients }, (_, client) =>
        plan.slotsOf(client, ids.length).map((slot) => ids[slot]!),
      );
    },
  };
}
