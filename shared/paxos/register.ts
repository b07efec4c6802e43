/**
 * The registers the HTTP API offers on top of the proposer: a write-once value (the first value chosen
 * stays chosen) and a rewritable register with versions and compare-and-set. Every operation, reads
 * included, goes through a Paxos round, so each is linearizable per key.
 */
import { randomUUID } from "node:crypto";
import { conflict, notFound, unavailable } from "../errors.ts";
import type { RegisterState } from "./acceptor.ts";
import type { Proposer } from "./proposer.ts";

export interface RegisterValue {
  key: string;
  value: unknown;
  version: number;
}

/** Write-once: proposes `value`; answers the chosen value and whether this call chose it. */
export async function proposeOnce(proposer: Proposer, key: string, value: unknown) {
  const origin = randomUUID();
  const { after } = await proposer.change(key, (current) => current ?? { version: 1, value, origin });
  const chosen = after!;
  return { key, value: chosen.value, version: chosen.version, won: chosen.origin === origin };
}

/** Sets the register, optionally only if its version is `ifVersion` (0: never written). */
export async function setRegister(
  proposer: Proposer,
  key: string,
  value: unknown,
  ifVersion?: number,
): Promise<RegisterValue> {
  const origin = randomUUID();
  // The state our first attempt built on. If an accept of ours got lost in the network, a later round
  // must not apply the change a second time on top of newer writes: it may apply it again only on the
  // same base, and when the base has moved on it cannot tell whether ours took effect.
  let base: RegisterState | undefined;
  let attempted = false;
  const { after } = await proposer.change(key, (current) => {
    if (current?.origin === origin) return current;
    if (attempted && (current?.version !== base?.version || current?.origin !== base?.origin)) {
      throw unavailable(
        "OutcomeUnknown",
        `a write to ${key} may or may not have taken effect; read it and retry`,
        {
          key,
        },
      );
    }
    if (ifVersion !== undefined && (current?.version ?? 0) !== ifVersion) return current;
    attempted = true;
    base = current;
    return { version: (current?.version ?? 0) + 1, value, origin } satisfies RegisterState;
  });
  if (after?.origin !== origin) {
    throw conflict("VersionConflict", `version is ${after?.version ?? 0}, not ${ifVersion}`, {
      key,
      value: after?.value ?? null,
      version: after?.version ?? 0,
    });
  }
  return { key, value: after.value, version: after.version };
}

/** A linearizable read. */
export async function readRegister(proposer: Proposer, key: string): Promise<RegisterValue> {
  const { after } = await proposer.change(key, (current) => current);
  if (!after) throw notFound("KeyNotFound", `${key} was never written`, { key });
  return { key, value: after.value, version: after.version };
}
