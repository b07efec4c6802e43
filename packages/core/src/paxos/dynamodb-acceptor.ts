/**
 * The acceptor on the replica's own DynamoDB table: each rule is exactly one UpdateItem with a
 * ConditionExpression; a rejection reads the conflicting ballot from ReturnValuesOnConditionCheckFailure,
 * so it costs no extra read. A rejected accept that carries a fallback (see acceptor.ts) is followed by
 * the fallback's prepare, a second conditional write on the item as the rejection found it. Paxos items
 * live under `paxos#<key>`, apart from other items of the table.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite } from "../dynamodb/transactions.ts";
import {
  type Accepted,
  type Acceptor,
  type AcceptReply,
  type AcceptRequest,
  fallbackBallot,
  type PrepareReply,
  type PrepareRequest,
  type RegisterState,
  rejection,
  writeUnderWay,
} from "./acceptor.ts";

export const paxosItemKey = (key: string) => ({ pk: `paxos#${key}` });

interface StoredItem {
  promised?: string;
  acceptedBallot?: string;
  /** The accepted register state as JSON, so any JSON value round-trips unchanged. */
  acceptedState?: string;
}

export class DynamoDBAcceptor implements Acceptor {
  private readonly documents: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(documents: DynamoDBDocumentClient, tableName: string) {
    this.documents = documents;
    this.tableName = tableName;
  }

  async prepare(request: PrepareRequest): Promise<PrepareReply> {
    const result = await conditionalWrite<StoredItem>(
      this.documents,
      new UpdateCommand({
        TableName: this.tableName,
        Key: paxosItemKey(request.key),
        UpdateExpression: "SET promised = :ballot",
        ConditionExpression:
          "(attribute_not_exists(promised) OR promised < :ballot) AND " +
          "(attribute_not_exists(acceptedBallot) OR acceptedBallot < :ballot)",
        ExpressionAttributeValues: { ":ballot": request.ballot },
        ReturnValues: "ALL_NEW",
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    if (!result.ok) return rejected(result.old);
    return { ok: true, ...acceptedOf(result.attributes as StoredItem | undefined) };
  }

  async accept(request: AcceptRequest): Promise<AcceptReply> {
    const promise = request.promise && request.promise > request.ballot ? request.promise : request.ballot;
    const result = await conditionalWrite<StoredItem>(
      this.documents,
      new UpdateCommand({
        TableName: this.tableName,
        Key: paxosItemKey(request.key),
        UpdateExpression: "SET promised = :promise, acceptedBallot = :ballot, acceptedState = :state",
        ConditionExpression:
          "(attribute_not_exists(promised) OR promised <= :ballot) AND " +
          "(attribute_not_exists(acceptedBallot) OR acceptedBallot <= :ballot)",
        ExpressionAttributeValues: {
          ":promise": promise,
          ":ballot": request.ballot,
          ":state": encodeState(request.state),
        },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    if (result.ok) return { ok: true };
    const old = result.old;
    // The SDK retried, and the item is past our ballot: our first attempt may have landed before another
    // round's accept went over it. A rejection would tell the proposer we never accepted (and it may then
    // forget an attempt that another round adopted); failing leaves the attempt counted as adoptable.
    if (result.retried && (old?.acceptedBallot ?? "") !== request.ballot)
      throw new Error(`a retried accept of ${request.key} at ${request.ballot} may have landed`);
    const reply = rejected(old);
    if (!request.fallback || !old || writeUnderWay(old.promised ?? "", old.acceptedBallot ?? ""))
      return reply;
    // The fallback: prepare(ballot) on the item exactly as the rejection found it (no write under way).
    const ballot = fallbackBallot(reply.conflict, request.ballot);
    const promised = await conditionalWrite<StoredItem>(
      this.documents,
      new UpdateCommand({
        TableName: this.tableName,
        Key: paxosItemKey(request.key),
        UpdateExpression: "SET promised = :fallback",
        ConditionExpression: `promised = :promised AND ${old.acceptedBallot ? "acceptedBallot = :accepted" : "attribute_not_exists(acceptedBallot)"}`,
        ExpressionAttributeValues: {
          ":fallback": ballot,
          ":promised": old.promised ?? "",
          ...(old.acceptedBallot ? { ":accepted": old.acceptedBallot } : {}),
        },
      }),
    );
    if (!promised.ok) return reply;
    return { ...reply, fallback: { ballot, ...acceptedOf(old) } };
  }
}

/** What a stored item says it accepted, as a promise answers it (nothing when it accepted nothing). */
const acceptedOf = (item: StoredItem | undefined): { accepted?: Accepted } =>
  item?.acceptedBallot
    ? { accepted: { ballot: item.acceptedBallot, state: decodeState(item.acceptedState) } }
    : {};

/**
 * A register state as stored: its recent writes as "version:origin" strings rather than objects, a third
 * of the size (each write to an item costs a write unit per KB of it, and a prepare or a read writes the
 * whole item). States stored in the object form read as they are.
 */
export function encodeState(state: RegisterState | null | undefined): string {
  if (!state?.recent) return JSON.stringify(state ?? null);
  const { recent, ...rest } = state;
  return JSON.stringify({ ...rest, r: recent.map((write) => `${write.version}:${write.origin}`) });
}

export function decodeState(text: string | undefined): RegisterState {
  // An accepted state is never null (an item with an accepted ballot has one).
  const parsed = JSON.parse(text ?? "null") as RegisterState & { r?: string[] };
  if (!parsed || !Array.isArray(parsed.r)) return parsed;
  const { r, ...rest } = parsed;
  return {
    ...rest,
    recent: r.map((entry) => {
      const at = entry.indexOf(":");
      return { version: Number(entry.slice(0, at)), origin: entry.slice(at + 1) };
    }),
  };
}

const rejected = (item: StoredItem | undefined) =>
  rejection(item?.promised ?? "", item?.acceptedBallot ?? "");
