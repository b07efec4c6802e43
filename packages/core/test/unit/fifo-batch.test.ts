import type { SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { processFifoGroups } from "../../src/idempotency/fifo-batch.ts";

const record = (messageId: string, group: string) =>
  ({ messageId, body: messageId, attributes: { MessageGroupId: group } }) as unknown as SQSRecord;

describe("FIFO partial batches", () => {
  it("keeps each group's order, skips a group's rest after its failure, and goes on with other groups", async () => {
    const batch = [
      record("a1", "a"),
      record("b1", "b"),
      record("a2", "a"),
      record("b2", "b"),
      record("a3", "a"),
    ];
    const seen: string[] = [];
    const result = await processFifoGroups(batch, async (r) => {
      seen.push(r.messageId);
      if (r.messageId === "a2") throw new Error("down");
    });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "a2" }, { itemIdentifier: "a3" }]);
    expect(seen.filter((id) => id.startsWith("a"))).toEqual(["a1", "a2"]);
    expect(seen.filter((id) => id.startsWith("b"))).toEqual(["b1", "b2"]);
  });

  it("runs the groups side by side", async () => {
    let running = 0;
    let most = 0;
    const batch = Array.from({ length: 6 }, (_, i) => record(`m${i}`, `g${i % 3}`));
    await processFifoGroups(batch, async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
    });
    expect(most).toBe(3);
  });
});
