/**
 * The local cloud as a library: start the engines and a CDK stack's functions, APIs, tables and queues in
 * this process (a test's setup, a bench), as the `local-cloud` command does. In-process synthesis of a
 * stack built in code is `@serverless-coordination/local-cloud/synthesize`; console plug-ins are
 * `@serverless-coordination/local-cloud/console`.
 */
export { AppError, assemblyDirFor, readStack } from "./app.ts";
export {
  type LocalCloud,
  type LocalCloudOptions,
  type SynthesizedStack,
  startLocalCloud,
} from "./cloud.ts";
export { type EngineOptions, type Engines, freePort, localCredentials, startEngines } from "./engines.ts";
export type { FaultMode, InvocationRecord, InvokeResult, LocalFunction } from "./functions.ts";
export type { LocalRoute, RequestRecord } from "./http-api.ts";
export type { MetricTotal } from "./metrics.ts";
export { LOCAL_ACCOUNT, LOCAL_REGION } from "./names.ts";
export type { LocalQueue, LocalTable } from "./resources.ts";
export type { Skipped } from "./support.ts";
export type { CfnResource, CfnTemplate } from "./template.ts";
