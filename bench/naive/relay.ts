/**
 * The naive outbox's relay: one SendMessage per stream record, in order, to a FIFO queue. No batching, no
 * partial-failure report (a failed send fails the whole batch), no quarantine.
 */
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBStreamEvent } from "aws-lambda";

const sqs = new SQSClient({});
const queueUrl = process.env.QUEUE_URL!;

export const handler = async (event: DynamoDBStreamEvent): Promise<void> => {
  for (const record of event.Records) {
    if (!record.dynamodb?.NewImage) continue;
    const item = unmarshall(record.dynamodb.NewImage as never);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(item),
        MessageGroupId: String(item.pk),
        MessageDeduplicationId: record.dynamodb.SequenceNumber!,
      }),
    );
  }
};
