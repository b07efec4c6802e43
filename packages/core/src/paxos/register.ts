/**
 * The registers the HTTP API offers on top of the proposer: a write-once value (the first value chosen
 * stays chosen) and a rewritable register with versions and compare-and-set. Every operation, reads
 * included, goes through a Paxos round, so each is linearizable per key.
 *
 * A key is of one kind for good: the kind of its first chosen state. A write-once key (POST) is never
 * overwritten; a set (PUT) on it answers 409 KeyKindConflict, and so does a POST on a rewritable key.
 */
import { createHash, randomUUID } from "node:crypto";
import { DomainError, type ErrorCode, fail } from "../errors.ts";
import type { RegisterState } from "./acceptor.ts";
import type { Proposer } from "./proposer.ts";

export interface RegisterValue {
  key: string;
  value: unknown;
  version: number;
}

const kindConflict = (key: string, writeOnce: boolean) =>
  fail(
    "KeyKindConflict",
    writeOnce
      ? `${key} is a write-once key (POST): it cannot be set`
      : `${key} is a rewritable key (PUT): it cannot be proposed once`,
    { key, kind: writeOnce ? "write-once" : "rewritable" },
  );

/**
 * Write-once: proposes `value`; answers the chosen value and whether this call's value was chosen.
 * `won` is exact: a write-once state never changes once chosen, so the chosen state carries the origin
 * of the call that proposed it, whichever round (ours or another proposer's) got it chosen.
 */
export async function proposeOnce(
  proposer: Proposer,
  key: string,
  value: unknown,
  origin: string = randomUUID(),
) {
  const { after } = await proposer.change(
    key,
    (current) => current ?? { version: 1, value, origin, writeOnce: true },
  );
  const chosen = after!;
  // Answered only from a chosen state (a read needs a majority at one ballot, else it is accepted at ours).
  if (!chosen.writeOnce) throw kindConflict(key, false);
  return { key, value: chosen.value, version: chosen.version, won: chosen.origin === origin };
}

/** How many recent writes a register state remembers (see RegisterState.recent). */
export const REGISTER_HISTORY = 32;

/**
 * What a register state keeps of a write's origin: 72 bits of its SHA-256 (12 base64url characters), not
 * the origin itself (an Idempotency-Key's fingerprint, a UUID): the history is kept in every acceptor's
 * item, and an item's size is what each write to it costs. Two origins among a key's last writes share a
 * mark with a chance of about 2^-62.
 */
export function originMark(origin: string): string {
  return createHash("sha256").update(origin).digest("base64url").slice(0, 12);
}

/**
 * Sets the register, optionally only if its version is `ifVersion` (0: never written).
 *
 * An attempt whose accept did not reach a majority may still have reached one acceptor, and a later
 * round (ours or another proposer's) may adopt it: the change may have taken effect although we saw a
 * failure. Applying it again on top would write it twice. So each round first looks for our origin in
 * the current state's recent writes: found, the write took effect (at that version) and we are done;
 * not found while the history covers every version an attempt of ours could have had, none took effect
 * and the change is built on the current state. An attempt the proposer reports void (a majority had
 * already accepted a higher ballot) can never be adopted and needs no looking for. A round we then win
 * at a higher ballot makes every earlier attempt of ours unadoptable; so does re-accepting the current
 * state before answering a compare-and-set or kind conflict. The outcome is unknown (503 OutcomeUnknown)
 * when more writes than the history holds came in between an adoptable attempt and now, or when the
 * change gives up (NoQuorum, Contention) with an attempt still adoptable. Any other failure means no
 * attempt can take effect, so sending the write again with the same origin is safe.
 */
export async function setRegister(
  proposer: Proposer,
  key: string,
  value: unknown,
  ifVersion?: number,
  /** The write's identity: a retry of the same write (same Idempotency-Key) passes the same origin. */
  origin: string = randomUUID(),
  /**
   * `rerun`: an earlier run of this write (same origin) may have sent attempts and died without a word
   * (its Idempotency-Key was taken over after its lease). Its attempts may sit at any version, so the
   * write counts as not taken effect only when the history reaches back to version 1.
   */
  options: { rerun?: boolean } = {},
): Promise<RegisterValue> {
  /** The versions of our attempts that a later round may still adopt (1: any, for a re-run). */
  const attempts: number[] = options.rerun ? [1] : [];
  let lastWasAttempt = false;
  let tookEffect: { version: number } | undefined;
  const mark = originMark(origin);
  // States written before marks were kept hold the origin itself.
  const ours = (stored: string | undefined) => stored === mark || stored === origin;
  const changed = proposer.change(key, (current, round) => {
    if (lastWasAttempt && round.previousAttemptVoid) attempts.pop();
    lastWasAttempt = false;
    // Only the round that ends the change decides: a state that carried our write in an earlier round
    // may have lost to another chain since.
    tookEffect = undefined;
    if (ours(current?.origin)) return current;
    // A retry of a write that took effect (an earlier request with the same origin) finds it here.
    const earlier = current?.recent?.find((write) => ours(write.origin));
    if (earlier && attempts.length === 0) {
      tookEffect = earlier;
      return current;
    }
    const firstAttempt = attempts.length > 0 ? Math.min(...attempts) : undefined;
    if (firstAttempt !== undefined && current) {
      const found = current.recent?.find((write) => ours(write.origin));
      if (found) {
        tookEffect = found;
        return current;
      }
      // Every version from our first attempt's up to the current one is in the history: our write is
      // not among them, so it did not take effect (a version below our first attempt has no such past).
      const oldest = current.recent?.[0]?.version ?? current.version + 1;
      const covered = current.version < firstAttempt || oldest <= firstAttempt;
      if (!covered) throw outcomeUnknown(key);
    }
    const refused = current?.writeOnce || (ifVersion !== undefined && (current?.version ?? 0) !== ifVersion);
    if (refused) {
      if (firstAttempt === undefined) return current;
      // An attempt of ours is still adoptable by a later round: accepting the current state again at
      // our higher ballot makes it unadoptable before we answer that the write did not happen.
      if (!current) throw outcomeUnknown(key);
      return { ...current };
    }
    const version = (current?.version ?? 0) + 1;
    attempts.push(version);
    lastWasAttempt = true;
    return {
      version,
      value,
      origin: mark,
      recent: [...(current?.recent ?? []), { version, origin: mark }].slice(-REGISTER_HISTORY),
    } satisfies RegisterState;
  });
  const { after } = await changed.catch((error: unknown) => {
    // Gave up (NoQuorum, Contention) with an attempt of ours that a later round may still adopt: running
    // the write again could apply it twice once the history forgot that attempt.
    if (attempts.length > 0 && !(error instanceof DomainError && error.code === "OutcomeUnknown"))
      throw outcomeUnknown(key, error instanceof DomainError ? error.code : "InternalError");
    throw error;
  });
  if (tookEffect) return { key, value, version: tookEffect.version };
  if (after?.writeOnce) throw kindConflict(key, true);
  if (!after || !ours(after.origin)) {
    throw fail("VersionConflict", `version is ${after?.version ?? 0}, not ${ifVersion}`, {
      key,
      value: after?.value ?? null,
      version: after?.version ?? 0,
    });
  }
  return { key, value: after.value, version: after.version };
}

/** `gaveUp`: the failure that ended the change while an attempt of ours was adoptable (else: buried). */
const outcomeUnknown = (key: string, gaveUp?: ErrorCode) =>
  fail(
    "OutcomeUnknown",
    `a write to ${key} may or may not have taken effect${gaveUp ? ` (${gaveUp} with an attempt under way)` : ""}; read it, then decide`,
    { key, ...(gaveUp ? { gaveUp } : {}) },
  );

/** A linearizable read. */
export async function readRegister(proposer: Proposer, key: string): Promise<RegisterValue> {
  const { after } = await proposer.change(key, (current) => current);
  if (!after) throw fail("KeyNotFound", `${key} was never written`, { key });
  return { key, value: after.value, version: after.version };
}
