/**
 * Any key and value the API accepts is carried exactly to every replica (property): through the real
 * routes, Idempotency-Key handling and coordinator, the primary's commit with its outbox record, the
 * stream, the Relay, the SQS FIFO model (which refuses what SQS refuses: characters outside its set, group
 * ids over 128 characters), the Replicator and every replica's apply; the outbox simulation in calm mode.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KEY_PATTERN, numberProblem, valueSchema } from "../../packages/core/src/validation.ts";
import { simulateOutbox } from "../simulation/outbox-simulation.ts";

/** Strings of every class JSON can carry, weighted towards the ones SQS and UTF-8 make hard. */
const hardText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 10 }),
  fc.constantFrom(
    "\ufffe",
    "\uffff",
    "\ud800",
    "x\udc00",
    "😀",
    "\u0000\u001f",
    "\u2028\u2029",
    "\u007f",
    '"\\/',
  ),
);
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  hardText,
  fc.dictionary(
    hardText,
    fc.oneof(hardText, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()),
  ),
  fc.array(hardText, { maxLength: 5 }),
);
/** A value's JSON text, if the API accepts it (the same checks the route runs); otherwise nothing. */
const accepted = (candidate: unknown) => {
  const text = JSON.stringify(candidate);
  if (text === undefined || numberProblem(text) || !valueSchema.safeParse(JSON.parse(text)).success)
    return undefined;
  return text;
};
const write = fc
  .record({
    key: fc.oneof(fc.stringMatching(KEY_PATTERN), fc.stringMatching(/^[A-Za-z0-9._:-]{120,200}$/)),
    value,
  })
  .map(({ key, value }) => ({ key, value: accepted(value) }))
  .filter((candidate): candidate is { key: string; value: string } => candidate.value !== undefined);

describe("every accepted write reaches every replica exactly", () => {
  it("carries any accepted key and value, unchanged, to every replica at the primary's version", async () => {
    let seed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 4 }), async (writes) => {
        const result = await simulateOutbox(++seed, { writes });
        expect(result.problem).toBeUndefined();
        expect(result.ok).toBe(true);
        expect(result.answered).toBeGreaterThanOrEqual(writes.length);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
