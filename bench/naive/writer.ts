/** The naive outbox's writer: one PutItem of the change, no read, no transaction, no outbox record. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from "aws-lambda";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const tableName = process.env.TABLE_NAME!;

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> => {
  const key = event.pathParameters!.key!;
  const { value } = JSON.parse(event.body ?? "{}") as { value: unknown };
  await documents.send(
    new PutCommand({ TableName: tableName, Item: { pk: key, value, writtenAt: Date.now() } }),
  );
  return { statusCode: 200, body: "{}" };
};
