/**
 * Naming a resource by its construct: its whole path below the stack ("Coordination/Replica3", or with
 * "-" for a function's id, "Coordination-Replica3"), or any tail of that path that no other resource of
 * the same kind shares ("Replica3"), so an app that nests its constructs is not typed out in full.
 */

/** The path's tails, longest first: "A/B/C" → "A/B/C", "B/C", "C". */
function tails(path: string, separator: string): string[] {
  const parts = path.split(separator);
  return parts.map((_, index) => parts.slice(index).join(separator));
}

/**
 * The one item `wanted` names: the exact path first, else the only item one of whose tails it is;
 * undefined when none or several match (an ambiguous tail names nothing).
 */
export function byConstructPath<T>(
  items: T[],
  pathOf: (item: T) => string,
  wanted: string,
  separator = "/",
): T | undefined {
  const exact = items.find((item) => pathOf(item) === wanted);
  if (exact) return exact;
  const matching = items.filter((item) => tails(pathOf(item), separator).includes(wanted));
  return matching.length === 1 ? matching[0] : undefined;
}
