/**
 * Starts DynamoDB Local and the SQS emulator once per test run, on free ports, and hands their
 * endpoints to every test file. Each file then isolates its data with its own access key id (DynamoDB
 * Local keeps one database per key) and its own resource name prefix (queue names are global).
 */

import { startEngines } from "@serverless-coordination/local-cloud";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
    sqsEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const engines = await startEngines();
  project.provide("dynamodbEndpoint", engines.dynamodbEndpoint);
  project.provide("sqsEndpoint", engines.sqsEndpoint);
  return async () => {
    await engines.stop();
  };
}
