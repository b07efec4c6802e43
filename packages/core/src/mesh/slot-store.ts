/**
 * The slot map of slot subsetting (balanced.ts), kept in DynamoDB next to the server registrations so
 * that every Api instance and every client sees the same slots.
 *
 * The map is one item, `#mesh-slots` in the server table (a name no server can have: server ids match
 * ^[A-Za-z0-9._:-]+$), with a version. Whoever reads it with a different live list brings it up to date:
 * the next map is a function of the stored map and the live list (assignSlots), and it is written only
 * if the version is still the one read (a conditional write). Two readers racing compute from the same
 * stored map, one write lands, and the other reads the result and starts again from it, so the map only
 * ever moves by assignSlots steps: the churn bounds of balanced.ts hold for the stored map too. An SDK
 * retry of a write that landed fails its condition and reads back the map it wrote.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { conditionalWrite } from "../dynamodb/transactions.ts";
import { fail } from "../errors.ts";
import { assignSlots } from "./balanced.ts";

export const SLOT_MAP_KEY = "#mesh-slots";

interface StoredSlots {
  serverId: typeof SLOT_MAP_KEY;
  version: number;
  slots: Record<string, number>;
}

const sameSlots = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>) =>
  a.size === b.size && [...a].every(([id, slot]) => b.get(id) === slot);

export class SlotStore {
  private readonly documents: Pick<DynamoDBDocumentClient, "send">;
  private readonly table: string;

  constructor(documents: Pick<DynamoDBDocumentClient, "send">, table: string) {
    this.documents = documents;
    this.table = table;
  }

  /** The slots of the live servers, after bringing the stored map up to date with them. */
  async slotsFor(live: readonly string[]): Promise<Map<string, number>> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const stored = await this.read();
      const current = new Map(Object.entries(stored?.slots ?? {}));
      const next = assignSlots(current, live);
      if (stored && sameSlots(current, next)) return next;
      const written = await conditionalWrite(
        this.documents,
        new PutCommand({
          TableName: this.table,
          Item: {
            serverId: SLOT_MAP_KEY,
            version: (stored?.version ?? 0) + 1,
            slots: Object.fromEntries(next),
          },
          ConditionExpression: stored ? "version = :read" : "attribute_not_exists(serverId)",
          ExpressionAttributeValues: stored ? { ":read": stored.version } : undefined,
        }),
      );
      if (written.ok) return next;
    }
    throw fail("Contention", "the mesh slot map kept changing under this update; retry");
  }

  private async read(): Promise<StoredSlots | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.table, Key: { serverId: SLOT_MAP_KEY }, ConsistentRead: true }),
    );
    return Item as StoredSlots | undefined;
  }
}
