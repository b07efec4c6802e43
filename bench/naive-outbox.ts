/**
 * The naive outbox the replication bench measures ours against, as a stack of its own on the same engines
 * and the same local Lambda runtime: PUT /naive/{key} (HTTP API, no authorizer) → a writer function that
 * PutItems the change (bench/naive/writer.ts) → the table's stream → a relay function that sends one
 * SendMessage per record to a FIFO queue (bench/naive/relay.ts). What it leaves out is what ours
 * guarantees: the write and its record in one transaction, versions, failure reports and replay,
 * quarantine, and the apply on every replica, counted once.
 */
import { type App, CfnOutput, Duration, Stack } from "aws-cdk-lib";
import { HttpApi, HttpMethod } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { AttributeType, BillingMode, StreamViewType, Table } from "aws-cdk-lib/aws-dynamodb";
import { StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AppFunction } from "../infra/constructs/app-function.ts";
import { fromRoot } from "../infra/paths.ts";

export function naiveOutboxStack(app: App): Stack {
  const stack = new Stack(app, "NaiveOutbox");
  const table = new Table(stack, "Table", {
    partitionKey: { name: "pk", type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    stream: StreamViewType.NEW_IMAGE,
  });
  const queue = new Queue(stack, "Queue", { fifo: true, visibilityTimeout: Duration.seconds(30) });
  const writer = new AppFunction(stack, "Writer", { entry: fromRoot("bench/naive/writer.ts") });
  writer.bindTableReadWrite(table, "TABLE_NAME");
  const relay = new AppFunction(stack, "Relay", { entry: fromRoot("bench/naive/relay.ts") });
  relay.bindQueueSend(queue, "QUEUE_URL");
  relay.addEventSource(
    new DynamoEventSource(table, { startingPosition: StartingPosition.TRIM_HORIZON, batchSize: 100 }),
  );
  const api = new HttpApi(stack, "Api");
  api.addRoutes({
    path: "/naive/{key}",
    methods: [HttpMethod.PUT],
    integration: new HttpLambdaIntegration("Writer", writer),
  });
  new CfnOutput(stack, "QueueUrl", { value: queue.queueUrl });
  return stack;
}
