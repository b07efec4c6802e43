/**
 * DynamoDB idioms every store here needs, written once: a transaction with DynamoDB's limits checked
 * before sending and its cancellation decided by the reason codes, and a conditional write that answers
 * the item it found instead of throwing.
 */
import { createHash } from "node:crypto";
import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  type DeleteCommand,
  type DynamoDBDocumentClient,
  type PutCommand,
  TransactWriteCommand,
  type UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";

/** DynamoDB's limits on one transaction. */
export const MAX_TRANSACTION_ACTIONS = 100;
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

// biome-ignore lint/suspicious/noExplicitAny: the actions are lib-dynamodb's TransactItems, of any shape.
export type TransactAction = Record<string, any>;

export class TransactionTooLarge extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransactionTooLarge";
  }
}

/** Checks DynamoDB's limits before sending, so an oversized transaction fails clearly and sends nothing. */
export function checkTransactionLimits(actions: TransactAction[]): void {
  if (actions.length === 0) throw new TransactionTooLarge("a transaction needs at least one action");
  if (actions.length > MAX_TRANSACTION_ACTIONS)
    throw new TransactionTooLarge(
      `${actions.length} actions; a transaction holds at most ${MAX_TRANSACTION_ACTIONS}`,
    );
  let bytes = 0;
  for (const action of actions) {
    const body = Object.values(action)[0] as { Item?: object; Key?: object } | undefined;
    const item = body?.Item ?? body?.Key;
    if (item) bytes += JSON.stringify(marshall(item, { removeUndefinedValues: true })).length;
  }
  if (bytes > MAX_TRANSACTION_BYTES)
    throw new TransactionTooLarge(
      `about ${bytes} bytes of items; a transaction holds at most ${MAX_TRANSACTION_BYTES}`,
    );
}

export type TransactOutcome =
  | { ok: true }
  | {
      ok: false;
      /** The indexes of the actions whose condition failed (empty when only a conflict cancelled it). */
      failedConditions: number[];
      /** Another transaction or write touched an item at the same moment: nothing was applied, and the
       * same transaction may well commit if sent again. */
      conflict: boolean;
      reasons: unknown[];
    };

/**
 * Commits the actions all or nothing. `token` (ClientRequestToken) makes the SDK's own retry of this very
 * request apply once: DynamoDB answers a repeat of the same token within 10 minutes without applying it
 * again. A cancellation for failed conditions or a conflict is an answer, not an error; any other
 * cancellation reason (throttling, validation) is thrown.
 */
export async function transact(
  documents: Pick<DynamoDBDocumentClient, "send">,
  actions: TransactAction[],
  token?: string,
): Promise<TransactOutcome> {
  checkTransactionLimits(actions);
  try {
    await documents.send(
      new TransactWriteCommand({
        TransactItems: actions,
        ...(token ? { ClientRequestToken: clientRequestToken(token) } : {}),
      }),
    );
    return { ok: true };
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const reasons = error.CancellationReasons ?? [];
    const failedConditions = reasons.flatMap((reason, index) =>
      reason.Code === "ConditionalCheckFailed" ? [index] : [],
    );
    const conflict = reasons.some((reason) => reason.Code === "TransactionConflict");
    const known = new Set(["None", "ConditionalCheckFailed", "TransactionConflict"]);
    if (reasons.some((reason) => !known.has(reason.Code ?? "None"))) throw error;
    if (failedConditions.length === 0 && !conflict) throw error;
    return { ok: false, failedConditions, conflict, reasons };
  }
}

/** ClientRequestToken allows at most 36 characters: a longer token is hashed. */
export function clientRequestToken(token: string): string {
  return token.length <= 36 ? token : createHash("sha256").update(token).digest("hex").slice(0, 36);
}

/**
 * Sends a conditional Put, Update or Delete; a failed condition answers the item as it was (the command
 * should ask for it with `ReturnValuesOnConditionCheckFailure: "ALL_OLD"`) instead of throwing.
 * `retried`: the SDK sent it more than once, so an earlier attempt may have landed and changed the item
 * the failed condition was checked on.
 */
export async function conditionalWrite<T = Record<string, unknown>>(
  documents: Pick<DynamoDBDocumentClient, "send">,
  command: PutCommand | UpdateCommand | DeleteCommand,
): Promise<{ ok: true; attributes?: Record<string, unknown> } | { ok: false; old?: T; retried: boolean }> {
  try {
    const result = (await documents.send(command as UpdateCommand)) as {
      Attributes?: Record<string, unknown>;
    };
    return { ok: true, attributes: result.Attributes };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return {
      ok: false,
      old: error.Item ? (unmarshall(error.Item) as T) : undefined,
      retried: (error.$metadata?.attempts ?? 1) > 1,
    };
  }
}
