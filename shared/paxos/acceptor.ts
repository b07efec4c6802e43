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
    return { reply: rejection(promised, acceptedBallot) as AcceptReply };
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
