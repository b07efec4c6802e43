/**
 * An SNS topic fanning out, run as a user would (`npm start -- --app test/fixtures/sns-fanout`): an SQS
 * subscription with SNS's envelope, a raw one with a filter policy, a Lambda subscription with a filter
 * policy (the SNS event shape, asynchronous invocation retried twice, then the function's DLQ), and an
 * email subscription listed as skipped.
 */
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { type Message, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, runStart } from "../support/app-process.ts";
import { eventually } from "../support/local-cloud.ts";

describe("an SNS topic fanning out to queues and a Lambda function", () => {
  let app: AppProcess;
  let sqs: SQSClient;
  let dynamodb: DynamoDBClient;
  const sqsEndpoint = () => new URL(app.outputs.AuditQueueUrl!).origin;
  beforeAll(async () => {
    app = await runStart(["--app", "test/fixtures/sns-fanout"], 120_000);
    const config = { region: LOCAL_REGION, credentials: localCredentials("local"), maxAttempts: 1 };
    sqs = new SQSClient({ ...config, endpoint: sqsEndpoint() });
    dynamodb = new DynamoDBClient({ ...config, endpoint: app.dynamodbUrl });
    // Published through the app's own function (the SDK on AWS_ENDPOINT_URL_SNS).
    for (const order of [
      { id: "o1", status: "shipped" },
      { id: "o2", status: "created" },
      { id: "o3", status: "cancelled" },
      { id: "poison-1", status: "shipped" },
    ]) {
      const response = await fetch(`${app.outputs.OrdersApiUrl}/orders`, {
        method: "POST",
        body: JSON.stringify(order),
      });
      expect(response.status).toBe(202);
    }
  }, 150_000);
  afterAll(async () => {
    sqs?.destroy();
    dynamodb?.destroy();
    await app?.stop();
  });

  /** Every message the queue has now, waiting until there are `count`. */
  const drain = async (url: string, count: number): Promise<Message[]> => {
    const messages: Message[] = [];
    await eventually(
      async () => {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageAttributeNames: ["All"],
          }),
        );
        messages.push(...Messages);
        return messages.length;
      },
      (length) => length >= count,
      20_000,
    );
    return messages;
  };

  it("delivers every order to the audit queue in SNS's envelope", async () => {
    const messages = await drain(app.outputs.AuditQueueUrl!, 4);
    const envelopes = messages.map((message) => JSON.parse(message.Body!));
    expect(envelopes.map((envelope) => JSON.parse(envelope.Message).id).sort()).toEqual([
      "o1",
      "o2",
      "o3",
      "poison-1",
    ]);
    expect(envelopes[0]).toMatchObject({
      Type: "Notification",
      TopicArn: app.outputs.TopicArn,
      Subject: expect.stringMatching(/^order /),
      MessageAttributes: { status: { Type: "String", Value: expect.any(String) } },
    });
  });

  it("delivers only shipped orders to the raw shipping queue, with their attributes", async () => {
    const messages = await drain(app.outputs.ShippingQueueUrl!, 2);
    expect(messages.map((message) => JSON.parse(message.Body!).id).sort()).toEqual(["o1", "poison-1"]);
    expect(messages[0]!.MessageAttributes?.status).toEqual({ DataType: "String", StringValue: "shipped" });
  });

  it("invokes the Lambda subscription with the SNS event for shipped and cancelled orders only", async () => {
    const items = await eventually(
      async () =>
        (await dynamodb.send(new ScanCommand({ TableName: app.outputs.RecordsTable! }))).Items!.map((item) =>
          unmarshall(item),
        ),
      (found) => found.some((item) => item.id === "o1") && found.some((item) => item.id === "o3"),
      20_000,
    );
    const byId = new Map(items.map((item) => [item.id, item]));
    expect(byId.has("o2")).toBe(false);
    expect(byId.get("o1")).toMatchObject({
      status: "shipped",
      subject: "order o1",
      source: "aws:sns",
      subscription: expect.stringMatching(new RegExp(`^${app.outputs.TopicArn}:[0-9a-f-]{36}$`)),
      statusAttribute: "shipped",
      attempts: 1,
    });
    expect(byId.get("o3")).toMatchObject({ status: "cancelled", attempts: 1 });
  });

  it("retries a failing event twice, then sends it to the function's dead-letter queue", async () => {
    const [dead] = await drain(app.outputs.RecorderDlqUrl!, 1);
    const event = JSON.parse(dead!.Body!);
    expect(JSON.parse(event.Records[0].Sns.Message)).toEqual({ id: "poison-1", status: "shipped" });
    expect(dead!.MessageAttributes?.ErrorMessage?.StringValue).toContain("cannot record poison-1");
    const items = (await dynamodb.send(new ScanCommand({ TableName: app.outputs.RecordsTable! }))).Items!;
    expect(items.map((item) => unmarshall(item)).find((item) => item.id === "poison-1")?.attempts).toBe(3);
  });

  it("takes a publish from any SNS client at the local endpoint, and lists what it does not deliver", async () => {
    const sns = new SNSClient({
      region: LOCAL_REGION,
      credentials: localCredentials("local"),
      endpoint: sqsEndpoint(),
      maxAttempts: 1,
    });
    const { MessageId } = await sns.send(
      new PublishCommand({
        TopicArn: app.outputs.TopicArn,
        Message: JSON.stringify({ id: "o4", status: "created" }),
      }),
    );
    sns.destroy();
    expect(MessageId).toMatch(/^[0-9a-f-]{36}$/);
    const [audited] = await drain(app.outputs.AuditQueueUrl!, 1);
    expect(JSON.parse(JSON.parse(audited!.Body!).Message)).toEqual({ id: "o4", status: "created" });
    expect(app.skipped).toEqual([
      expect.stringMatching(
        /^Orders\w+ \(AWS::SNS::Subscription\): SNS email subscriptions are not emulated \(only sqs and lambda\): nothing is delivered to orders@example\.com$/,
      ),
    ]);
    expect(app.output()).toMatch(/SNS subscriptions \(3\)/);
  });
});
