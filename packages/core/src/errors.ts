/**
 * Every failure the system reports, by code. Domain code throws a DomainError with one of these codes
 * and knows nothing of HTTP: the one mapping of codes to statuses is the API contract's ERROR_STATUS
 * (packages/core/src/api/contract.ts), and the router answers `{"error":{"code","message",...details}}` with it.
 */
export const ERROR_CODES = {
  InvalidKey: "the key in the path is not a valid key",
  InvalidServerId: "the server id in the path is not a valid id",
  InvalidSessionId: "the session id in the path is not a valid id",
  InvalidClientId:
    "the client id in the path is not a key, is an index (digits only) of more than 15 digits or with a leading zero, or is not below `clients`",
  InvalidQuery: "the query string has an unknown, malformed or contradictory parameter",
  InvalidBody: "the JSON body does not have the route's shape",
  InvalidJson: "the body is not JSON",
  InvalidEncoding:
    "the body arrived as bytes (a binary content type) and is not UTF-8: it would not read back exactly",
  InvalidNumber: "the body holds a number that would not read back exactly",
  InvalidReplica: "no replica has that id",
  InvalidIdempotencyKey: "the Idempotency-Key header is not 1 to 255 printable ASCII characters",
  RouteNotFound: "no route has that method and path",
  KeyNotFound: "the key was never written (or is not on that replica)",
  SessionNotFound: "the session was never assigned",
  StateNotFound: "the session has no state",
  VersionConflict: "a compare-and-set named a version that is not the current one",
  KeyKindConflict: "a set on a write-once key, or a write-once propose on a rewritable key",
  LeaseHeld: "another server holds the session's lease (a move without waiting)",
  StaleFencingToken: "the fencing token is not the session's newest: the caller no longer holds it",
  ServerNotLive: "the server has not sent a heartbeat recently",
  RequestInProgress: "a request with this Idempotency-Key is still running",
  IdempotencyKeyReused: "this Idempotency-Key was used with a different request",
  InternalError: "an unexpected failure",
  Contention:
    "the change did not get through competing changes in time; sending it again with the same Idempotency-Key cannot apply it twice",
  NoQuorum:
    "too few replicas answered; sending the write again with the same Idempotency-Key cannot apply it twice",
  OutcomeUnknown:
    "a write may or may not have taken effect, and sending it again could apply it twice: read, then decide (the answer is kept for its Idempotency-Key)",
  ReplicaUnavailable: "a replica did not answer in time",
  NoLiveServer: "no server has sent a heartbeat recently",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A failure with a code the caller can act on, and details (key, version, retryAfterMs, ...). */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
    this.name = code;
  }
}

export const fail = (code: ErrorCode, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, message, details);
