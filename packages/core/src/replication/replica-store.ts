/**
 * A replica's copy of the key-value store, on the replica's own table (items under `kv#<key>`, apart
 * from the Paxos items). Each item carries the version (`lastUpdate`) of the write it holds, and every
 * change to it is one conditional write, so replays and reorderings cannot move a replica backwards.
 *
 * - `apply` (every replica): writes a change only if it is newer than the stored version; an equal
 *   version is a duplicate delivery, an older one a stale (out-of-order) delivery: both are no-ops.
 * - `commit` (the primary): assigns the write its version and commits the item together with its outbox
 *   record in one transaction, so the change reaches ChangesQueue exactly when it is committed; one round
 *   trip in the usual case (no read before it).
 */
import { randomUUID } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import {
  type ApplyReply,
  type ApplyResult,
  type StoredValue,
  storedValueSchema,
} from "../contracts/replica.ts";
import { conditionalWrite, transact } from "../dynamodb/transactions.ts";
import { type ChangeMessage, outboxRecord } from "../outbox/outbox.ts";
import { nextVersion } from "../version.ts";

export const kvItemKey = (key: string) => ({ pk: `kv#${key}` });

export type { ApplyResult, StoredValue };

interface KvItem {
  pk: string;
  key: string;
  version: string;
  /** The value as JSON, so any JSON value round-trips unchanged. */
  value: string;
  appliedAt: string;
}

export class ReplicaStore {
  private readonly documents: DynamoDBDocumentClient;
  private readonly tableName: string;
  /** The outbox table; only the primary has one. */
  private readonly outboxTable?: string;
  private readonly now: () => number;

  constructor(
    documents: DynamoDBDocumentClient,
    tableName: string,
    outboxTable?: string,
    now: () => number = Date.now,
  ) {
    this.documents = documents;
    this.tableName = tableName;
    this.outboxTable = outboxTable;
    this.now = now;
  }

  async read(key: string): Promise<StoredValue | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: kvItemKey(key), ConsistentRead: true }),
    );
    return Item ? fromItem(Item as KvItem) : undefined;
  }

  /** Writes the change if it is newer than this replica's version of the key (the lastUpdate rule). */
  async apply(change: ChangeMessage): Promise<ApplyReply> {
    const written = await conditionalWrite<KvItem>(
      this.documents,
      new PutCommand({
        TableName: this.tableName,
        Item: this.item(change),
        ConditionExpression: "attribute_not_exists(pk) OR version < :version",
        ExpressionAttributeValues: { ":version": change.version },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    if (written.ok) return { result: "applied", version: change.version };
    const current = written.old?.version ?? change.version;
    return { result: current === change.version ? "duplicate" : "stale", version: current };
  }

  /**
   * The primary's commit: the item at a new version and the outbox record in one transaction, the item
   * conditioned on holding an older version (`lastUpdate` only grows; between writers, the commit order).
   * No read first: the version comes from the clock (`nextVersion` of nothing), which is newer than the
   * key's in the usual case, so a commit is one round trip. When it is not (two writes in one millisecond,
   * a clock behind the key's version), the cancellation carries the item as it is, and the next attempt
   * takes the version after it. A repeat of the same `writeId` (a retried request) commits nothing new and
   * answers the first version.
   */
  async commit(writeId: string, key: string, value: unknown): Promise<StoredValue> {
    if (!this.outboxTable) throw new Error("this replica is not the primary: it has no outbox table");
    /** The key's version as last seen (undefined: not seen, or no item). */
    let seen: string | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      const change = { key, version: nextVersion(seen, this.now()), value };
      const result = await transact(
        this.documents,
        [
          {
            Put: {
              TableName: this.tableName,
              Item: this.item(change),
              ConditionExpression: "attribute_not_exists(pk) OR version < :version",
              ExpressionAttributeValues: { ":version": change.version },
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            },
          },
          {
            Put: {
              TableName: this.outboxTable,
              Item: outboxRecord(writeId, change, this.now()),
              ConditionExpression: "attribute_not_exists(id)",
            },
          },
        ],
        // Covers the SDK's own retries of this very request (a timeout after DynamoDB applied it); a
        // repeat of the write by the caller is caught by the outbox record's condition instead.
        `${writeId}:${attempt}:${randomUUID()}`,
      );
      if (result.ok) return change;
      // The outbox record exists: this write id committed before (a retried request).
      if (result.failedConditions.includes(1)) {
        const { Item } = await this.documents.send(
          new GetCommand({ TableName: this.outboxTable, Key: { id: writeId }, ConsistentRead: true }),
        );
        return storedValueSchema.parse(JSON.parse((Item as { payload: string }).payload));
      }
      if (result.failedConditions.includes(0)) {
        // The key holds our version or a newer one: build on it (read it if the answer lacks it).
        const old = (result.reasons[0] as { Item?: Record<string, AttributeValue> } | undefined)?.Item;
        seen = old ? String(unmarshall(old).version) : (await this.read(key))?.version;
      }
      // Or a transaction conflicted with ours (nothing applied): send it again.
    }
    throw new Error(`could not commit ${key}: too many concurrent writers`);
  }

  private item(change: ChangeMessage): KvItem {
    return {
      ...kvItemKey(change.key),
      key: change.key,
      version: change.version,
      value: JSON.stringify(change.value ?? null),
      appliedAt: new Date(this.now()).toISOString(),
    };
  }
}

function fromItem(item: KvItem): StoredValue {
  return { key: item.key, version: item.version, value: JSON.parse(item.value) };
}
