// Billing: charges each order once. A claim on the message's outbox id (its deduplication id) completes
// in the same transaction as the charge, so a duplicate delivery finds it done and charges nothing.
import { documents } from "@serverless-coordination/core/aws";
import { Claims, processFifoGroups } from "@serverless-coordination/core/idempotency";
import { changeMessageSchema } from "@serverless-coordination/core/outbox";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";

const claims = new Claims(documents, process.env.CLAIM_TABLE as string, {
  leaseMs: Number(process.env.CLAIM_LEASE_MS),
});

export const handler = (event: SQSEvent): Promise<SQSBatchResponse> =>
  processFifoGroups(event.Records, async (record) => {
    const change = changeMessageSchema.parse(JSON.parse(record.body));
    const claim = await claims.claim(record.attributes.MessageDeduplicationId ?? record.messageId);
    if (claim.status === "completed") return;
    if (claim.status === "held") throw new Error(`message ${claim.id} is being handled by another worker`);
    const { amount } = change.value as { amount: number };
    await claims.complete(claim, [
      {
        Update: {
          TableName: process.env.BILLING_TABLE,
          Key: { pk: change.key },
          UpdateExpression: "ADD charges :one, charged :amount",
          ExpressionAttributeValues: { ":one": 1, ":amount": amount },
        },
      },
    ]);
  });
