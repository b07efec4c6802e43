/**
 * A replica's copy of the key-value store, on the replica's own table (items under `kv#<key>`, apart
 * from the Paxos items). Each item carries the version (`lastUpdate`) of the write it holds, and every
 * change to it is one conditional write, so replays and reorderings cannot move a replica backwards.
 *
 * - `apply` (every replica): writes a change only if it is newer than the stored version; an equal
 *   version is a duplicate delivery, an older one a stale (out-of-order) delivery: both are no-ops.
 * - `commit` (the primary): assigns the write its version and commits the item together with its outbox
 *   record in one transaction, so the change reaches ChangesQueue exactly when it is committed.
 */
import { randomUUID } from "node:crypto";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import {
  type ApplyReply,
  type ApplyResult,
  type StoredValue,
  storedValueSchema,
} from "../contracts/replica.ts";
import { conditionalWrite, transact } from "../dynamodb/transactions.ts";
import { type ChangeMessage, outboxRecord } from "../outbox/outbox.ts";
import { nextVersion } from "./version.ts";

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
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** The outbox table; only the primary has one. */
    private readonly outboxTable?: string,
    private readonly now: () => number = Date.now,
  ) {}

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
   * The primary's commit: the next version after the key's current one, the item and the outbox record
   * in one transaction, conditioned on the version read (optimistic concurrency between writers). A
   * repeat of the same `writeId` (a retried request) commits nothing new and answers the first version.
   */
  async commit(writeId: string, key: string, value: unknown): Promise<StoredValue> {
    if (!this.outboxTable) throw new Error("this replica is not the primary: it has no outbox table");
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.read(key);
      const change = { key, version: nextVersion(current?.version, this.now()), value };
      const result = await transact(
        this.documents,
        [
          {
            Put: {
              TableName: this.tableName,
              Item: this.item(change),
              ConditionExpression: current ? "version = :read" : "attribute_not_exists(pk)",
              ExpressionAttributeValues: current ? { ":read": current.version } : undefined,
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
      // Another writer committed the key between our read and our write, or a transaction conflicted
      // with ours (nothing applied): read again and retry.
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
