/**
 * The acceptor on the replica's own DynamoDB table: each rule is exactly one UpdateItem with a
 * ConditionExpression; a rejection reads the conflicting ballot from ReturnValuesOnConditionCheckFailure,
 * so it costs no extra read. Paxos items live under `paxos#<key>`, apart from other items of the table.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import {
  type Acceptor,
  type AcceptReply,
  type AcceptRequest,
  type PrepareReply,
  type PrepareRequest,
  type Rejection,
  rejection,
} from "./acceptor.ts";

export const paxosItemKey = (key: string) => ({ pk: `paxos#${key}` });

interface StoredItem {
  promised?: string;
  acceptedBallot?: string;
  /** The accepted register state as JSON, so any JSON value round-trips unchanged. */
  acceptedState?: string;
}

export class DynamoDBAcceptor implements Acceptor {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async prepare(request: PrepareRequest): Promise<PrepareReply> {
    try {
      const result = await this.documents.send(
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
      const item = result.Attributes as StoredItem | undefined;
      if (!item?.acceptedBallot) return { ok: true };
      return {
        ok: true,
        accepted: { ballot: item.acceptedBallot, state: JSON.parse(item.acceptedState ?? "null") },
      };
    } catch (error) {
      return rejected(error);
    }
  }

  async accept(request: AcceptRequest): Promise<AcceptReply> {
    const promise = request.promise && request.promise > request.ballot ? request.promise : request.ballot;
    try {
      await this.documents.send(
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
            ":state": JSON.stringify(request.state),
          },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { ok: true };
    } catch (error) {
      return rejected(error);
    }
  }
}

function rejected(error: unknown): Rejection {
  if (!(error instanceof ConditionalCheckFailedException)) throw error;
  const item = error.Item ? (unmarshall(error.Item) as StoredItem) : undefined;
  return rejection(item?.promised ?? "", item?.acceptedBallot ?? "");
}
