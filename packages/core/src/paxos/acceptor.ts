/**
 * The acceptor (a replica) of per-key Paxos with CASPaxos registers. Its whole state per key is the
 * highest ballot it promised and the ballot and register state it last accepted. Two rules, each one
 * conditional write:
 *
 * - prepare(key, ballot) succeeds only if the acceptor has neither promised nor accepted a ballot as high;
 *   it records the promise and answers what it accepted before (the "viral" property: a new proposer
 *   must carry an accepted value forward). A rejection answers the conflicting ballot.
 * - accept(key, ballot, state) succeeds only if no higher ballot was promised (the same one is fine) and
 *   none higher accepted. It may also record the promise of the proposer's next ballot, which lets a
 *   proposer that still holds the latest ballot skip phase 1 next time (one round trip).
 *
 * A rejected accept may carry a prepare (`fallback`): when no write is under way at the acceptor (its
 * promise is what it accepted, or that writer's own next ballot), it promises the ballot just above its
 * promise for the rejected ballot's proposer, exactly as prepare(that ballot) would, and answers what it
 * accepted. A prepare may be sent at any time and refused for any reason, so this changes nothing about
 * safety; it saves a proposer whose warm state went stale (another proposer wrote the key since) the
 * round trip of a separate phase 1. A promise is never granted over a write under way, which would cut
 * that write off.
 */
import type {
  Accepted,
  AcceptReply,
  AcceptRequest,
  PrepareReply,
  PrepareRequest,
  RegisterState,
  Rejection,
} from "../contracts/replica.ts";
import { decodeBallot, nextBallot } from "./ballot.ts";

// The messages are defined once, in the replica contract.
export type { Accepted, AcceptReply, AcceptRequest, PrepareReply, PrepareRequest, RegisterState, Rejection };

export type AcceptorRequest = PrepareRequest | AcceptRequest;

export interface Acceptor {
  prepare(request: PrepareRequest): Promise<PrepareReply>;
  accept(request: AcceptRequest): Promise<AcceptReply>;
}

/** Stored acceptor state of one key. The empty ballot is below every real one. */
export interface AcceptorRecord {
  promised: string;
  accepted?: Accepted;
}

/**
 * Whether an acceptor's state shows a write under way: a promise above what it accepted that is not the
 * accepted writer's own next ballot (which every accept records, for that writer's next one-round
 * change), i.e. a prepare whose accept has not come.
 */
export function writeUnderWay(promised: string, acceptedBallot: string): boolean {
  return (
    promised !== acceptedBallot &&
    (acceptedBallot === "" ||
      promised !== nextBallot(acceptedBallot, decodeBallot(acceptedBallot).proposerId))
  );
}

/** The ballot a rejected accept's fallback promises: just above `conflict`, for the rejected ballot's proposer. */
export function fallbackBallot(conflict: string, rejectedBallot: string): string {
  return nextBallot(conflict, decodeBallot(rejectedBallot).proposerId);
}

/** The two rules as pure functions; the in-memory acceptor uses them and the DynamoDB one mirrors them. */
export function rejection(promised: string, acceptedBallot: string): Rejection {
  return { ok: false, conflict: promised > acceptedBallot ? promised : acceptedBallot, acceptedBallot };
}

export function applyPrepare(record: AcceptorRecord | undefined, request: PrepareRequest) {
  const promised = record?.promised ?? "";
  const acceptedBallot = record?.accepted?.ballot ?? "";
  if (promised >= request.ballot || acceptedBallot >= request.ballot) {
    return { reply: rejection(promised, acceptedBallot) as PrepareReply };
  }
  return {
    reply: { ok: true, accepted: record?.accepted } as PrepareReply,
    next: { promised: request.ballot, accepted: record?.accepted } satisfies AcceptorRecord,
  };
}

export function applyAccept(record: AcceptorRecord | undefined, request: AcceptRequest) {
  const promised = record?.promised ?? "";
  const acceptedBallot = record?.accepted?.ballot ?? "";
  if (promised > request.ballot || acceptedBallot > request.ballot) {
    const rejected = rejection(promised, acceptedBallot);
    if (!request.fallback || writeUnderWay(promised, acceptedBallot))
      return { reply: rejected as AcceptReply };
    const ballot = fallbackBallot(rejected.conflict, request.ballot);
    return {
      reply: {
        ...rejected,
        fallback: { ballot, ...(record?.accepted ? { accepted: record.accepted } : {}) },
      } as AcceptReply,
      next: { promised: ballot, accepted: record?.accepted } satisfies AcceptorRecord,
    };
  }
  const promise = request.promise && request.promise > request.ballot ? request.promise : request.ballot;
  return {
    reply: { ok: true } as AcceptReply,
    next: {
      promised: promise,
      accepted: { ballot: request.ballot, state: request.state },
    } satisfies AcceptorRecord,
  };
}

/** An acceptor whose state lives in memory: for the deterministic simulation. */
export class MemoryAcceptor implements Acceptor {
  readonly records = new Map<string, AcceptorRecord>();

  private readonly rules: { prepare: typeof applyPrepare; accept: typeof applyAccept };

  constructor(
    rules: { prepare: typeof applyPrepare; accept: typeof applyAccept } = {
      prepare: applyPrepare,
      accept: applyAccept,
    },
  ) {
    this.rules = rules;
  }

  async prepare(request: PrepareRequest): Promise<PrepareReply> {
    const { reply, next } = this.rules.prepare(this.records.get(request.key), request);
    if (next) this.records.set(request.key, next);
    return reply;
  }

  async accept(request: AcceptRequest): Promise<AcceptReply> {
    const { reply, next } = this.rules.accept(this.records.get(request.key), request);
    if (next) this.records.set(request.key, next);
    return reply;
  }
}
