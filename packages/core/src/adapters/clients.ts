/** SDK clients, created once per execution environment and reused across invocations. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

export const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});

// The proposer retries and times out calls itself; the SDK must not retry a replica call behind its back.
export const lambda = new LambdaClient({ maxAttempts: 1 });
