/** The mesh's slot map on DynamoDB Local: kept up to date by whoever reads it, converging under races. */
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { LeaseService } from "../../packages/core/src/leases/service.ts";
import { assignSlots } from "../../packages/core/src/mesh/balanced.ts";
import { SLOT_MAP_KEY, SlotStore } from "../../packages/core/src/mesh/slot-store.ts";
import { createPkTable, isolatedDocuments } from "../support/dynamodb.ts";

const documents = isolatedDocuments();
let table: string;
let n = 0;
const freshTable = async () => createPkTable(documents, `Servers${n++}`, "serverId");

beforeAll(async () => {
  table = await freshTable();
});

const stored = async (name = table) =>
  (await documents.send(new GetCommand({ TableName: name, Key: { serverId: SLOT_MAP_KEY } }))).Item as
    | { version: number; slots: Record<string, number> }
    | undefined;

describe("the mesh slot map", () => {
  it("gives dense slots, keeps survivors in place, and fills a hole from the top", async () => {
    const store = new SlotStore(documents, table);
    const first = await store.slotsFor(["a", "b", "c", "d"]);
    expect([...first.values()].sort()).toEqual([0, 1, 2, 3]);
    const lost = [...first].find(([, slot]) => slot === 1)![0];
    const top = [...first].find(([, slot]) => slot === 3)![0];
    const afterLoss = await store.slotsFor(["a", "b", "c", "d"].filter((id) => id !== lost));
    // Slots 0 and 2 stay; the server of slot 3 fills the hole at 1.
    for (const [id, slot] of first) if (slot === 0 || slot === 2) expect(afterLoss.get(id)).toBe(slot);
    expect(afterLoss.get(top)).toBe(1);
    expect(afterLoss.has(lost)).toBe(false);
    const afterJoin = await store.slotsFor([...afterLoss.keys(), "e"]);
    expect(afterJoin.get("e")).toBe(3);
    expect((await stored())?.slots).toEqual(Object.fromEntries(afterJoin));
  });

  it("writes only when the live list changes the map", async () => {
    const name = await freshTable();
    const store = new SlotStore(documents, name);
    await store.slotsFor(["x", "y"]);
    const version = (await stored(name))!.version;
    await store.slotsFor(["y", "x"]);
    expect((await stored(name))!.version).toBe(version);
    await store.slotsFor(["x", "y", "z"]);
    expect((await stored(name))!.version).toBe(version + 1);
  });

  it("converges when many Api instances update it at once: the map moves only by assignSlots steps", async () => {
    const name = await freshTable();
    const base = Array.from({ length: 20 }, (_, i) => `s${i}`);
    await new SlotStore(documents, name).slotsFor(base);
    const before = new Map(Object.entries((await stored(name))!.slots));
    const live = [...base.filter((id) => id !== "s3"), "s20"];
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => new SlotStore(documents, name).slotsFor(live)),
    );
    const expected = assignSlots(before, live);
    for (const answer of answers) expect(Object.fromEntries(answer)).toEqual(Object.fromEntries(expected));
    expect((await stored(name))!.slots).toEqual(Object.fromEntries(expected));
  });

  it("recovers when a write landed but its answer was lost (the SDK retries it and the condition fails)", async () => {
    const name = await freshTable();
    let replayed = false;
    const retrying = {
      send: async (command: unknown) => {
        const answer = await documents.send(command as PutCommand);
        if (command instanceof PutCommand && !replayed) {
          replayed = true;
          return documents.send(command); // the retry of a write that landed: its condition now fails
        }
        return answer;
      },
    };
    const slots = await new SlotStore(retrying, name).slotsFor(["p", "q"]);
    expect(replayed).toBe(true);
    expect(Object.fromEntries(slots)).toEqual((await stored(name))!.slots);
    expect((await stored(name))!.version).toBe(1);
  });

  it("is never taken for a live server by the lookup service", async () => {
    const name = await freshTable();
    const leases = new LeaseService(documents, {
      leaseTable: "unused",
      serverTable: name,
      config: { leaseDurationMs: 10_000, maxSkewMs: 1_000 },
    });
    await documents.send(
      new PutCommand({
        TableName: name,
        Item: { serverId: "only", epoch: "e1", expiresAt: Date.now() + 60_000 },
      }),
    );
    await new SlotStore(documents, name).slotsFor(["only"]);
    expect((await leases.liveServers()).map((server) => server.serverId)).toEqual(["only"]);
    expect((await stored(name))!.slots).toEqual({ only: 0 });
  });
});
