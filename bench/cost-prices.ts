/**
 * On-demand prices for one region (us-east-1), in dollars: the one table the cost suite prices with.
 * Change them here for another region or a later price list. Each says where it was read and when.
 */
export const PRICES = {
  region: "us-east-1",
  readOn: "2026-12-05",
  /** API Gateway HTTP APIs, per request (first 300 million a month). */
  httpApiRequest: {
    dollars: 1.0 / 1e6,
    source:
      "Amazon API Gateway pricing (HTTP APIs $1.00 per million, first 300 million), as quoted by amnic.com and awsforengineers.com (2025), stored pages",
  },
  /** Lambda, per request. */
  lambdaRequest: {
    dollars: 0.2 / 1e6,
    source: "aws.amazon.com/lambda/pricing ($0.20 per million requests), stored page",
  },
  /** Lambda duration, per GB-second (x86, first tier). */
  lambdaGbSecond: {
    dollars: 0.0000166667,
    source: "aws.amazon.com/lambda/pricing ($0.0000166667 per GB-second, x86), stored page",
  },
  /** DynamoDB on-demand, per write request unit. Halved in November 2024 (from $1.25 per million). */
  writeUnit: {
    dollars: 0.625 / 1e6,
    source:
      "AWS News Blog, 'Amazon DynamoDB On-Demand' (updated 2025-01-31 for the November 2024 price cut); $0.625 per million WRU as quoted by airbyte.com (2025-07-21), stored pages",
  },
  /** DynamoDB on-demand, per read request unit. */
  readUnit: {
    dollars: 0.125 / 1e6,
    source: "as the write unit: $0.125 per million RRU after the November 2024 cut",
  },
  /** SQS, per request (64 KiB chunk), standard and FIFO queues. */
  sqsStandardRequest: {
    dollars: 0.4 / 1e6,
    source:
      "Amazon SQS pricing ($0.40 per million, standard) as quoted by cloudburn.io (2026-03-14), stored page",
  },
  sqsFifoRequest: {
    dollars: 0.5 / 1e6,
    source:
      "Amazon SQS pricing ($0.50 per million, FIFO) as quoted by cloudburn.io (2026-03-14), stored page",
  },
  /** DynamoDB Streams read by Lambda: free. */
  streamReadByLambda: {
    dollars: 0,
    source: "DynamoDB pricing: GetRecords calls by Lambda triggers are free",
  },
} as const;

/**
 * What Lambda would bill for each kind of invocation on AWS, in milliseconds: this machine's durations
 * are a loaded laptop's, not Lambda's. Assumed, not measured: DynamoDB answers a request in single-digit
 * milliseconds within a region (aws.amazon.com/dynamodb/faqs, stored page), so a function that makes one
 * request is taken at 10 ms; a function that waits on others is taken at 20 ms per round of calls it makes
 * plus 5 ms of its own.
 */
export const TYPICAL_MS = {
  oneRequest: 10,
  perRound: 20,
  own: 5,
} as const;
