import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { inject } from "vitest";
import { uniqueId } from "./local-cloud.ts";

/** A document client on DynamoDB Local with a database of its own (a fresh access key id). */
export function isolatedDocuments(): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: LOCAL_REGION,
    endpoint: inject("dynamodbEndpoint"),
    credentials: localCredentials(`it${uniqueId()}`),
  });
  return DynamoDBDocumentClient.from(client);
}

/** A table with one string partition key (`pk` unless named otherwise). */
export async function createPkTable(
  documents: DynamoDBDocumentClient,
  name: string,
  partitionKey = "pk",
): Promise<string> {
  await documents.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: partitionKey, KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: partitionKey, AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  return name;
}

/** A client that sends through `documents` and records the name of every request it sends. */
export function recordingClient(documents: DynamoDBDocumentClient): {
  client: DynamoDBDocumentClient;
  sent: string[];
} {
  const sent: string[] = [];
  const client = {
    send: (command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      return documents.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, sent };
}
