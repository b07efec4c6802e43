/**
 * The quarantine of outbox records the Relay could not send (poison), kept with their full content, and
 * its replay: once the cause is fixed (the record corrected in the quarantine table, or the queue fixed),
 * `replayQuarantine` relays each quarantined record again and removes the ones that went through.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { type RelayRecord, relay } from "./relay.ts";

interface QuarantineItem {
  /** The stream record's sequence number: unique, and readable even when the record has no id. */
  sequenceNumber: string;
  /** The full outbox item in DynamoDB JSON, exactly as the stream delivered it. */
  image: string;
  reason: string;
  quarantinedAt: string;
}

export class Quarantine {
  private readonly documents: Pick<DynamoDBDocumentClient, "send">;
  private readonly tableName: string;

  constructor(documents: Pick<DynamoDBDocumentClient, "send">, tableName: string) {
    this.documents = documents;
    this.tableName = tableName;
  }

  async put(record: RelayRecord, reason: string): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          sequenceNumber: record.sequenceNumber,
          image: JSON.stringify(record.image),
          reason,
          quarantinedAt: new Date().toISOString(),
        } satisfies QuarantineItem,
      }),
    );
  }

  async list(): Promise<Array<RelayRecord & { reason: string }>> {
    const items: QuarantineItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      items.push(...((page.Items ?? []) as QuarantineItem[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items
      .sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1))
      .map((item) => ({
        sequenceNumber: item.sequenceNumber,
        image: JSON.parse(item.image) as Record<string, AttributeValue>,
        reason: item.reason,
      }));
  }

  /** Relays every quarantined record again; those sent leave the quarantine, the others stay. */
  async replay(
    sqs: Pick<SQSClient, "send">,
    queueUrl: string,
  ): Promise<{ replayed: number; remaining: number }> {
    let replayed = 0;
    let remaining = 0;
    for (const record of await this.list()) {
      let requarantined = false;
      const outcome = await relay([record], {
        sqs,
        queueUrl,
        quarantine: async (_, reason) => {
          requarantined = true;
          await this.put(record, reason);
        },
      });
      if (outcome.sent === 1 && !requarantined) {
        await this.documents.send(
          new DeleteCommand({ TableName: this.tableName, Key: { sequenceNumber: record.sequenceNumber } }),
        );
        replayed++;
      } else remaining++;
    }
    return { replayed, remaining };
  }
}
