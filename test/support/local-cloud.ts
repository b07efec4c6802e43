import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  freePort,
  LOCAL_REGION,
  type LocalCloud,
  type LocalCloudOptions,
  localCredentials,
  startLocalCloud,
} from "@serverless-coordination/local-cloud";
import { synthesizeStack } from "@serverless-coordination/local-cloud/synthesize";
import type { App, Stack } from "aws-cdk-lib";
import { inject } from "vitest";
import { fromRoot } from "../../infra/paths.ts";

export interface TestCloud extends LocalCloud {
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  /** Sets a fault on a function by its construct id through the local cloud's own API. */
  fault(functionId: string, mode: "error" | "timeout" | "lose-reply" | "none"): Promise<void>;
  fault(functionId: string, mode: "delay", delay: { delayMs: number; jitterMs?: number }): Promise<void>;
  /** The local name of a table, by its construct id ("Source", "Replica1/Table"). */
  tableName(constructId: string): string;
  queueUrl(constructId: string): string;
}

/** A unique suffix per test file, so runs sharing the engines never see each other's data. */
export function uniqueId(): string {
  return randomBytes(4).toString("hex");
}

/** Synthesizes a stack and runs it on the engines the global setup started. */
export async function startTestCloud(
  build: (app: App) => Stack,
  options: Partial<LocalCloudOptions> = {},
): Promise<TestCloud> {
  const id = uniqueId();
  const stack = synthesizeStack(build, fromRoot(`.local/test-assemblies/${id}`));
  const cloud = await startLocalCloud({
    stack,
    engines: { dynamodbEndpoint: inject("dynamodbEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    httpPort: await freePort(),
    lambdaPort: await freePort(),
    accessKeyId: `test${id}`,
    namePrefix: `${stack.stackName}-${id}`,
    log: (line) => console.error(line),
    functionLog: process.env.LOCAL_CLOUD_LOGS ? (fn, line) => console.log(`[${fn}] ${line}`) : undefined,
    ...options,
  });
  const config = { region: LOCAL_REGION, credentials: localCredentials(cloud.accessKeyId) };
  const documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...config, endpoint: cloud.dynamodbEndpoint }),
  );
  const sqs = new SQSClient({ ...config, endpoint: cloud.sqsEndpoint });
  return {
    ...cloud,
    documents,
    sqs,
    async fault(functionId: string, mode: string, delay?: { delayMs: number; jitterMs?: number }) {
      const response = await fetch(`${cloud.lambdaEndpoint}/_local/faults/${functionId}`, {
        method: "PUT",
        body: JSON.stringify({ mode, ...delay }),
      });
      if (response.status !== 200)
        throw new Error(`fault ${functionId}: ${response.status} ${await response.text()}`);
    },
    tableName: (id) => cloud.byConstruct(cloud.tables, id).name,
    queueUrl: (id) => cloud.byConstruct(cloud.queues, id).url,
    async stop() {
      documents.destroy();
      sqs.destroy();
      await cloud.stop();
    },
  };
}

/** Polls until `probe` returns a value that `done` accepts, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value)) {
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    value = await probe();
  }
  return value;
}
