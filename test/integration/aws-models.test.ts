/**
 * The simulation's models of SQS and DynamoDB Streams, checked against the engines we test on: the same
 * operations on the SQS emulator and on SqsModel, and the same writes on DynamoDB Local (with its stream)
 * and on DynamoDBModel with StreamsModel, compared answer by answer. (The models' injected faults —
 * empty pages, lost answers, outages, trimming after 24 hours — are what they add on purpose.)
 *
 * Where the SQS emulator departs from AWS's documented behaviour, the model follows AWS, and the script
 * stays off those cases: the emulator accepts a MessageGroupId of 129 characters (AWS: at most 128),
 * hands out one message per group per receive (AWS may hand out several of a group, in order), and hands
 * a group out again when one of its messages becomes visible while a later one is still in flight (AWS
 * keeps the group locked).
 */
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
} from "@aws-sdk/client-dynamodb-streams";
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { describe, expect, inject, it } from "vitest";
import { readStreamRange } from "../../packages/core/src/outbox/failed-batches.ts";
import { DynamoDBModel } from "../simulation/dynamodb-model.ts";
import { SqsModel } from "../simulation/sqs-model.ts";
import { StreamsModel } from "../simulation/streams-model.ts";
import { uniqueId } from "../support/local-cloud.ts";

type Sender = { send(command: unknown): Promise<unknown> };

async function sqsScript(sqs: Sender, url: string): Promise<Array<[string, unknown]>> {
  const steps: Array<[string, unknown]> = [];
  const handles = new Map<string, string>();
  const entry = (id: string, body: string, group: string, dedup: string) => ({
    Id: id,
    MessageBody: body,
    MessageGroupId: group,
    MessageDeduplicationId: dedup,
  });
  const receive = async (name: string, max = 10) => {
    const answer = (await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: max,
        MessageSystemAttributeNames: ["All"],
        WaitTimeSeconds: 0,
      }),
    )) as { Messages?: Array<{ Body: string; ReceiptHandle: string; Attributes?: Record<string, string> }> };
    for (const message of answer.Messages ?? []) {
      if (handles.has(message.Body)) handles.set(`${message.Body} (old)`, handles.get(message.Body)!);
      handles.set(message.Body, message.ReceiptHandle);
    }
    steps.push([
      name,
      (answer.Messages ?? []).map(
        (message) => `${message.Body}#${message.Attributes?.ApproximateReceiveCount}`,
      ),
    ]);
  };
  const step = async (name: string, run: () => Promise<unknown>) => {
    const answer = await run().then(
      (value) => value as Record<string, unknown>,
      (error: Error) => ({ refused: true, name: error.name }),
    );
    if ("refused" in answer) return steps.push([name, "refused"]);
    if ("Successful" in answer || "Failed" in answer)
      return steps.push([
        name,
        {
          successful: ((answer.Successful ?? []) as Array<{ Id: string }>).map((e) => e.Id).sort(),
          failed: ((answer.Failed ?? []) as Array<{ Id: string; SenderFault: boolean }>)
            .map((e) => `${e.Id}:${e.SenderFault ? "sender" : "service"}`)
            .sort(),
        },
      ]);
    return steps.push([name, "ok"]);
  };
  const batch = (entries: ReturnType<typeof entry>[]) =>
    sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));

  await step("send a, b (group g1) and c (group g2)", () =>
    batch([entry("0", "a", "g1", "d1"), entry("1", "b", "g1", "d2"), entry("2", "c", "g2", "d3")]),
  );
  await step("send a deduplication id again within the window", () => batch([entry("0", "a2", "g1", "d1")]));
  await step("send a body with U+FFFF", () => batch([entry("0", "\uffff", "g3", "d5")]));
  await step("send eleven entries", () =>
    batch(Array.from({ length: 11 }, (_, index) => entry(String(index), "z", "g4", `z${index}`))),
  );
  await receive("receive one: the first of the first group", 1);
  await receive("receive: g1 is locked while a is in flight, g2 is not");
  await step("delete a", () =>
    sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handles.get("a")! })),
  );
  await receive("receive: the next of g1");
  await step("make b visible again", () =>
    sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: [{ Id: "0", ReceiptHandle: handles.get("b")!, VisibilityTimeout: 0 }],
      }),
    ),
  );
  await receive("receive b again, its receive count 2");
  await step("delete b and c", async () => {
    for (const body of ["b", "c"])
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handles.get(body)! }));
    return {};
  });
  await receive("receive from the empty queue");
  // SQS's limits since 2025: 1 MiB a message and 1 MiB for a batch's messages together.
  const kib = (n: number, fill: string) => fill.repeat(n * 1024);
  await step("send a batch of 640 KiB in all", () =>
    batch(Array.from({ length: 10 }, (_, index) => entry(String(index), kib(64, "m"), "g5", `m${index}`))),
  );
  await step("send a batch over 1 MiB in all", () =>
    batch(Array.from({ length: 3 }, (_, index) => entry(String(index), kib(350, "o"), "g6", `o${index}`))),
  );
  return steps;
}

describe("the simulation's models against the engines", () => {
  it("SqsModel answers a FIFO script as the SQS emulator does", async () => {
    const sqs = new SQSClient({
      endpoint: inject("sqsEndpoint"),
      region: LOCAL_REGION,
      credentials: localCredentials("models"),
      useQueueUrlAsEndpoint: false,
    });
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `models-${uniqueId()}.fifo`,
        Attributes: { FifoQueue: "true", VisibilityTimeout: "60" },
      }),
    );
    const engine = await sqsScript(sqs, QueueUrl!);
    const url = "https://sqs.us-east-1.amazonaws.com/000000000000/models.fifo";
    const model = new SqsModel([{ url, fifo: true, visibilityTimeoutSeconds: 60 }], {
      now: Date.now,
      random: () => 0.99,
    });
    expect(await sqsScript(model as Sender, url)).toEqual(engine);
    expect(engine.map(([, answer]) => answer)).toEqual([
      { successful: ["0", "1", "2"], failed: [] },
      { successful: ["0"], failed: [] },
      { successful: [], failed: ["0:sender"] },
      "refused",
      ["a#1"],
      ["c#1"],
      "ok",
      ["b#1"],
      { successful: ["0"], failed: [] },
      ["b#2"],
      "ok",
      [],
      { successful: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], failed: [] },
      "refused",
    ]);
  });

  it("StreamsModel records the writes DynamoDB Local's stream records, and readStreamRange reads the same range from both", async () => {
    const client = new DynamoDBClient({
      endpoint: inject("dynamodbEndpoint"),
      region: LOCAL_REGION,
      credentials: localCredentials(`models${uniqueId()}`),
    });
    const documents = DynamoDBDocumentClient.from(client);
    const streams = new DynamoDBStreamsClient({
      endpoint: inject("dynamodbEndpoint"),
      region: LOCAL_REGION,
      credentials: await client.config.credentials(),
    });
    const table = `Outbox${uniqueId()}`;
    await client.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
        StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_IMAGE" },
      }),
    );
    const model = new DynamoDBModel([{ name: table, hashKey: "id" }], { now: Date.now, random: () => 0.5 });
    const streamModel = new StreamsModel(model, table, "id", { now: Date.now, random: () => 0.5, shards: 1 });

    const writes = [
      new PutCommand({ TableName: table, Item: { id: "x1", version: "1", payload: '{"a":1}' } }),
      new PutCommand({ TableName: table, Item: { id: "x2", version: "1", payload: "[]" } }),
      new UpdateCommand({
        TableName: table,
        Key: { id: "x1" },
        UpdateExpression: "SET version = :v",
        ExpressionAttributeValues: { ":v": "2" },
      }),
      new DeleteCommand({ TableName: table, Key: { id: "x2" } }),
      new PutCommand({ TableName: table, Item: { id: "x3", version: "1", payload: '"é"' } }),
    ];
    for (const write of writes) {
      await documents.send(write as never);
      await model.send(write as never);
    }

    const { Streams = [] } = await streams.send(new ListStreamsCommand({ TableName: table }));
    const streamArn = Streams[0]!.StreamArn!;
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const shardId = StreamDescription!.Shards![0]!.ShardId!;

    const readAll = async (source: Sender, arn: string, shard: string) => {
      const { ShardIterator } = (await source.send(
        new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard, ShardIteratorType: "TRIM_HORIZON" }),
      )) as { ShardIterator: string };
      const page = (await source.send(new GetRecordsCommand({ ShardIterator }))) as {
        Records: Array<{
          eventName: string;
          dynamodb: { Keys: never; NewImage?: never; SequenceNumber: string };
        }>;
      };
      return page.Records;
    };
    const engineRecords = await readAll(streams, streamArn, shardId);
    const modelRecords = await readAll(streamModel, streamModel.streamArn, streamModel.shardIds[0]!);
    const shape = (records: typeof engineRecords) =>
      records.map((record) => ({
        eventName: record.eventName,
        keys: unmarshall(record.dynamodb.Keys),
        image: record.dynamodb.NewImage ? unmarshall(record.dynamodb.NewImage) : undefined,
      }));
    expect(shape(modelRecords)).toEqual(shape(engineRecords));
    expect(shape(engineRecords).map((record) => record.eventName)).toEqual([
      "INSERT",
      "INSERT",
      "MODIFY",
      "REMOVE",
      "INSERT",
    ]);
    // Sequence numbers grow as numbers in both.
    for (const records of [engineRecords, modelRecords]) {
      const sequence = records.map((record) => BigInt(record.dynamodb.SequenceNumber));
      expect(sequence.every((value, index) => index === 0 || value > sequence[index - 1]!)).toBe(true);
    }

    // The production range reader, from the second record to the fourth, on both.
    const range = async (source: Sender, arn: string, shard: string, records: typeof engineRecords) =>
      (
        await readStreamRange(source as never, {
          streamArn: arn,
          shardId: shard,
          startSequenceNumber: records[1]!.dynamodb.SequenceNumber,
          endSequenceNumber: records[3]!.dynamodb.SequenceNumber,
        })
      ).map((record) => unmarshall(record.image));
    const engineRange = await range(streams, streamArn, shardId, engineRecords);
    expect(await range(streamModel, streamModel.streamArn, streamModel.shardIds[0]!, modelRecords)).toEqual(
      engineRange,
    );
    // The inserts in the range: what the Relay publishes (a modification or a removal is not a change).
    expect(engineRange.map((item) => item.id)).toEqual(["x2"]);
  });
});
