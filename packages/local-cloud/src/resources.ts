/** Creates the template's DynamoDB tables and SQS queues on the local engines. */
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Skipped } from "./support.ts";
import type { Template } from "./template.ts";

export interface LocalTable {
  logicalId: string;
  name: string;
  streamArn?: string;
}

export interface LocalQueue {
  logicalId: string;
  name: string;
  url: string;
  arn: string;
  fifo: boolean;
}

type Props = Record<string, unknown>;

export async function createTables(
  template: Template,
  dynamodb: DynamoDBClient,
  skip: (skipped: Skipped) => void = () => {},
): Promise<LocalTable[]> {
  // All at once, as CloudFormation creates resources that do not depend on each other.
  const created = await Promise.all(
    template.resourcesOfType("AWS::DynamoDB::Table").map(async ([logicalId, resource]) => {
      try {
        return await createTable(template, dynamodb, logicalId, resource.Properties ?? {});
      } catch (error) {
        skip({ logicalId, type: resource.Type, reason: (error as Error).message });
        return undefined;
      }
    }),
  );
  return created.filter((table) => table !== undefined);
}

async function createTable(
  template: Template,
  dynamodb: DynamoDBClient,
  logicalId: string,
  props: Props,
): Promise<LocalTable> {
  {
    const name = template.physicalName(logicalId, props.TableName);
    const stream = props.StreamSpecification as { StreamViewType?: string } | undefined;
    const indexes = props.GlobalSecondaryIndexes as Props[] | undefined;
    try {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: template.resolve(props.KeySchema) as KeySchemaElement[],
          AttributeDefinitions: template.resolve(props.AttributeDefinitions) as AttributeDefinition[],
          BillingMode: "PAY_PER_REQUEST",
          StreamSpecification: stream?.StreamViewType
            ? { StreamEnabled: true, StreamViewType: stream.StreamViewType as "NEW_IMAGE" }
            : undefined,
          GlobalSecondaryIndexes: indexes?.map((index) => ({
            IndexName: String(index.IndexName),
            KeySchema: index.KeySchema as KeySchemaElement[],
            Projection: index.Projection as { ProjectionType: "ALL" },
          })),
        }),
      );
    } catch (error) {
      // Tables survive restarts when data is kept under .local/.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
    if (ttl?.Enabled && ttl.AttributeName) {
      await dynamodb
        .send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
          }),
        )
        .catch((error: Error) => {
          if (!/already enabled/i.test(error.message)) throw error;
        });
    }
    const described = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
    const streamArn = described.Table?.LatestStreamArn;
    const arn = template.arn("dynamodb", `table/${name}`);
    template.setPhysical(logicalId, {
      ref: name,
      attributes: { Arn: arn, ...(streamArn ? { StreamArn: streamArn } : {}) },
    });
    return { logicalId, name, streamArn };
  }
}

export async function createQueues(
  template: Template,
  sqs: SQSClient,
  skip: (skipped: Skipped) => void = () => {},
): Promise<LocalQueue[]> {
  const pending = template.resourcesOfType("AWS::SQS::Queue");
  const queues: LocalQueue[] = [];
  // A queue's redrive policy names its DLQ, so dead-letter queues are created first.
  const created = new Set<string>();
  while (pending.length > 0) {
    const index = pending.findIndex(([, resource]) => {
      const target = deadLetterTarget(resource.Properties?.RedrivePolicy);
      return target === undefined || created.has(target);
    });
    if (index < 0) {
      for (const [logicalId, resource] of pending.splice(0))
        skip({
          logicalId,
          type: resource.Type,
          reason: "its redrive policy's dead-letter queue was not created",
        });
      break;
    }
    const [logicalId, resource] = pending.splice(index, 1)[0]!;
    try {
      queues.push(await createQueue(template, sqs, logicalId, (resource.Properties ?? {}) as Props));
      created.add(logicalId);
    } catch (error) {
      skip({ logicalId, type: resource.Type, reason: (error as Error).message });
    }
  }
  return queues;
}

async function createQueue(template: Template, sqs: SQSClient, logicalId: string, props: Props) {
  {
    const fifo = props.FifoQueue === true || props.FifoQueue === "true";
    const name = template.physicalName(logicalId, props.QueueName, fifo ? ".fifo" : "");
    const attributes: Record<string, string> = {};
    for (const key of [
      "VisibilityTimeout",
      "MessageRetentionPeriod",
      "DelaySeconds",
      "ReceiveMessageWaitTimeSeconds",
      "MaximumMessageSize",
      "ContentBasedDeduplication",
    ]) {
      if (props[key] !== undefined) attributes[key] = String(template.resolve(props[key]));
    }
    if (fifo) attributes.FifoQueue = "true";
    if (props.RedrivePolicy) attributes.RedrivePolicy = JSON.stringify(template.resolve(props.RedrivePolicy));
    await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { QueueUrl: url } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    const arn = template.arn("sqs", name);
    template.setPhysical(logicalId, { ref: url!, attributes: { Arn: arn, QueueName: name, QueueUrl: url! } });
    return { logicalId, name, url: url!, arn, fifo };
  }
}

function deadLetterTarget(policy: unknown): string | undefined {
  const target = (policy as { deadLetterTargetArn?: { "Fn::GetAtt"?: [string, string] } } | undefined)
    ?.deadLetterTargetArn?.["Fn::GetAtt"];
  return target?.[0];
}
