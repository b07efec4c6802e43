/**
 * Partial batch processing for an SQS FIFO queue, one message group at a time per group but the groups
 * side by side. Within a group the order holds: after a failure, the group's later messages are reported
 * failed without being tried, so they come back after it. Other groups go on. (Powertools'
 * SqsFifoPartialProcessor with skipGroupOnError keeps the same rules but runs every record in turn; with
 * many keys in a batch, running the groups side by side is what makes a FIFO consumer keep up.)
 */
import type { SQSBatchResponse, SQSRecord } from "aws-lambda";

export async function processFifoGroups(
  records: SQSRecord[],
  handle: (record: SQSRecord) => Promise<void>,
  onError: (record: SQSRecord, error: unknown) => void = () => {},
): Promise<SQSBatchResponse> {
  const groups = new Map<string, SQSRecord[]>();
  for (const record of records) {
    const group = record.attributes.MessageGroupId ?? record.messageId;
    groups.set(group, [...(groups.get(group) ?? []), record]);
  }
  const failed = new Set<string>();
  await Promise.all(
    [...groups.values()].map(async (group) => {
      for (const [index, record] of group.entries()) {
        try {
          await handle(record);
        } catch (error) {
          onError(record, error);
          for (const rest of group.slice(index)) failed.add(rest.messageId);
          return;
        }
      }
    }),
  );
  // In the batch's order, as Lambda expects them.
  return {
    batchItemFailures: records
      .filter((record) => failed.has(record.messageId))
      .map((record) => ({ itemIdentifier: record.messageId })),
  };
}
