/** The SQS and DynamoDB Streams clients, for the functions that relay and consume changes. */
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { SQSClient } from "@aws-sdk/client-sqs";

// Queue URLs name a host; the client's own endpoint (AWS_ENDPOINT_URL_SQS locally, the region's on AWS)
// is the one to call.
export const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
export const streams = new DynamoDBStreamsClient({});
