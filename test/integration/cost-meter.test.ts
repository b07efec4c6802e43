/**
 * The cost suite's meters, against a known sequence of SDK calls made here, through them, on the real
 * engines: the units and requests they count are the ones DynamoDB and SQS bill for those calls.
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DynamoDBMeter, SqsMeter } from "../../bench/cost-meter.ts";

const config = { region: LOCAL_REGION, credentials: localCredentials("costmeter"), maxAttempts: 1 };
const run = Date.now().toString(36);

describe("the DynamoDB meter", () => {
  let meter: DynamoDBMeter;
  let db: DynamoDBClient;
  const TableName = `meter-${run}`;
  const OtherTable = `meter-other-${run}`;
  beforeAll(async () => {
    meter = await DynamoDBMeter.start(inject("dynamodbEndpoint"));
    db = new DynamoDBClient({ ...config, endpoint: meter.endpoint });
    for (const name of [TableName, OtherTable])
      await db.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
  });
  afterAll(async () => {
    db.destroy();
    await meter.stop();
  });

  it("counts write units by item size, transactions at twice, reads by consistency, failed conditions", async () => {
    const before = meter.snapshot();
    // Three small PutItems: 3 units.
    for (const pk of ["a", "b", "c"])
      await db.send(new PutItemCommand({ TableName, Item: { pk: { S: pk } } }));
    // A 2.5 KB item: 3 units.
    await db.send(new PutItemCommand({ TableName, Item: { pk: { S: "big" }, v: { S: "x".repeat(2500) } } }));
    // A two-item transaction of small items: 2 × 2 units.
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName, Item: { pk: { S: "t1" } } } },
          { Put: { TableName, Item: { pk: { S: "t2" } } } },
        ],
      }),
    );
    // Transactions over two tables (which DynamoDB Local misreports): two small items, 2 × 2 units; two
    // small items and a 2.5 KB one, 2 × (1 + 1 + 3).
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName, Item: { pk: { S: "t3" } } } },
          { Put: { TableName: OtherTable, Item: { pk: { S: "t4" } } } },
        ],
      }),
    );
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName, Item: { pk: { S: "t5" } } } },
          { Put: { TableName, Item: { pk: { S: "t6" }, v: { S: "x".repeat(2500) } } } },
          { Put: { TableName: OtherTable, Item: { pk: { S: "t7" } } } },
        ],
      }),
    );
    // Transactions over one table, which DynamoDB Local reports as four units per KB of its largest item
    // whatever the number of items: one small item, 2 units; four small items, 4 × 2.
    await db.send(
      new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName, Item: { pk: { S: "u1" } } } }] }),
    );
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: ["u2", "u3", "u4", "u5"].map((pk) => ({
          Put: { TableName, Item: { pk: { S: pk } }, ConditionExpression: "attribute_not_exists(pk)" },
        })),
      }),
    );
    // An Update and a ConditionCheck in a transaction are billed by the item they touch (the 2.5 KB one:
    // 2 × 3 units each, though the request carries none of it); a Put that replaces it, by the larger of
    // the two (2 × 3), beside a small Put on the other table (2).
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Update: {
              TableName,
              Key: { pk: { S: "big" } },
              UpdateExpression: "SET w = :w",
              ExpressionAttributeValues: { ":w": { S: "1" } },
            },
          },
        ],
      }),
    );
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName,
              Key: { pk: { S: "big" } },
              ConditionExpression: "attribute_exists(pk)",
            },
          },
          { Put: { TableName: OtherTable, Item: { pk: { S: "u6" } } } },
        ],
      }),
    );
    await db.send(
      new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName, Item: { pk: { S: "big" } } } }] }),
    );
    // A conditional write that fails: still 1 unit.
    await expect(
      db.send(
        new UpdateItemCommand({
          TableName,
          Key: { pk: { S: "a" } },
          UpdateExpression: "SET v = :v",
          ConditionExpression: "attribute_not_exists(pk)",
          ExpressionAttributeValues: { ":v": { S: "1" } },
        }),
      ),
    ).rejects.toMatchObject({ name: "ConditionalCheckFailedException" });
    // An eventually consistent read (half a unit) and a strongly consistent one (one unit).
    const read = await db.send(new GetItemCommand({ TableName, Key: { pk: { S: "a" } } }));
    await db.send(new GetItemCommand({ TableName, Key: { pk: { S: "a" } }, ConsistentRead: true }));
    // The caller did not ask for consumed capacity: its answer has none, and is whole.
    expect(read.ConsumedCapacity).toBeUndefined();
    expect(read.Item).toEqual({ pk: { S: "a" } });
    // A caller that asks gets it.
    const asked = await db.send(
      new PutItemCommand({ TableName, Item: { pk: { S: "d" } }, ReturnConsumedCapacity: "TOTAL" }),
    );
    expect(asked.ConsumedCapacity?.CapacityUnits).toBe(1);

    const after = meter.snapshot();
    expect(after.writeUnits - before.writeUnits).toBe(3 + 3 + 4 + 4 + 10 + 2 + 8 + 6 + 8 + 6 + 1 + 1);
    expect(after.readUnits - before.readUnits).toBe(1.5);
    expect(after.requests - before.requests).toBe(16);
    expect(after.byOperation.TransactWriteItems! - (before.byOperation.TransactWriteItems ?? 0)).toBe(8);
  });
});

describe("the SQS meter", () => {
  let meter: SqsMeter;
  let sqs: SQSClient;
  beforeAll(async () => {
    meter = await SqsMeter.start(inject("sqsEndpoint"));
    sqs = new SQSClient({ ...config, endpoint: meter.endpoint });
  });
  afterAll(async () => {
    sqs.destroy();
    await meter.stop();
  });

  it("counts one request per call and per 64 KiB chunk, FIFO apart, empty receives apart", async () => {
    const { QueueUrl: standard } = await sqs.send(new CreateQueueCommand({ QueueName: `meter-${run}` }));
    const { QueueUrl: fifo } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `meter-${run}.fifo`,
        Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
      }),
    );
    const before = meter.snapshot();
    // One SendMessageBatch of 3 small messages: one request.
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: standard,
        Entries: ["1", "2", "3"].map((id) => ({ Id: id, MessageBody: `m${id}` })),
      }),
    );
    // A 100 KiB message: two 64 KiB chunks.
    await sqs.send(new SendMessageCommand({ QueueUrl: standard, MessageBody: "y".repeat(100 * 1024) }));
    // One FIFO send.
    await sqs.send(new SendMessageCommand({ QueueUrl: fifo, MessageBody: "f", MessageGroupId: "g" }));
    // A receive that gets the small messages (one request), and their deletes... one of them.
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: fifo, MaxNumberOfMessages: 10 }),
    );
    expect(Messages).toHaveLength(1);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: fifo, ReceiptHandle: Messages[0]!.ReceiptHandle }));
    // An empty receive.
    const { QueueUrl: empty } = await sqs.send(new CreateQueueCommand({ QueueName: `meter-empty-${run}` }));
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: empty, MaxNumberOfMessages: 1 }));

    const after = meter.snapshot();
    // CreateQueue of the empty one is a standard request too.
    expect(after.standard - before.standard).toBe(1 + 2 + 1);
    expect(after.fifo - before.fifo).toBe(1 + 1 + 1);
    expect(after.emptyReceives - before.emptyReceives).toBe(1);
  });
});
