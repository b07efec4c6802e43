import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { CONSOLE_PREFIX, type ConsolePluginFactory, LocalConsole } from "./console/console.ts";
import { byConstructPath } from "./construct-ids.ts";
import { type Engines, localCredentials, startEngines } from "./engines.ts";
import { type MappingConfig, type Poller, QueuePoller, readMappings, StreamPoller } from "./event-sources.ts";
import { createFunctions, type LocalFunction, pythonInfo, RuntimePool } from "./functions.ts";
import { INTEGRATION_TIMEOUT_MS, type LocalRoute, readCors, readRoutes, startHttpApi } from "./http-api.ts";
import { closeGracefully } from "./http-server.ts";
import { FunctionRegistry, startLambdaApi } from "./lambda-api.ts";
import { LocalMetrics } from "./metrics.ts";
import { LOCAL_REGION } from "./names.ts";
import { createQueues, createTables, type LocalQueue, type LocalTable } from "./resources.ts";
import { restApiBases } from "./rest-api.ts";
import {
  createSubscriptions,
  createTopics,
  type LocalSubscription,
  type LocalTopic,
  SnsDelivery,
} from "./sns.ts";
import { type Skipped, unemulated } from "./support.ts";
import { type CfnTemplate, Template } from "./template.ts";
import { readWebSocketApis, WebSocketApis, webSocketStages } from "./websocket-api.ts";

export interface SynthesizedStack {
  stackName: string;
  assemblyDir: string;
  template: CfnTemplate;
}

export interface LocalCloudOptions {
  stack: SynthesizedStack;
  httpPort?: number;
  lambdaPort?: number;
  host?: string;
  /** Engines already running (tests share one pair per run); started and owned by the cloud otherwise. */
  engines?: Pick<Engines, "dynamodbEndpoint" | "sqsEndpoint">;
  /**
   * The local cloud's own working directory (inline function code is written out here; never the
   * user's assembly). Default: a directory of its own under the system's temporary directory.
   */
  workDir?: string;
  /** For engines the cloud starts: DynamoDB Local's data directory (in memory when absent). */
  dataDir?: string;
  dynamodbPort?: number;
  sqsPort?: number;
  /** DynamoDB Local keeps one database per access key id: a unique one isolates a run. */
  accessKeyId?: string;
  /** Prefix of the local resource names (default: the stack name). */
  namePrefix?: string;
  /** Environments per function when the template reserves no concurrency. */
  defaultConcurrency?: number;
  /** Receive loops per SQS mapping. */
  queuePollers?: number;
  /** Extra environment for every function (the template's own variables win). */
  environment?: Record<string, string>;
  log?: (line: string) => void;
  functionLog?: (functionId: string, line: string) => void;
  /** The app's own console panels (see console/console.ts). */
  consolePlugins?: ConsolePluginFactory[];
  /**
   * Environments booted ahead for the stack's functions (see RuntimePool), e.g. while the caller's
   * engines start; by default the cloud boots them itself as it starts.
   */
  runtimes?: RuntimePool;
  /** The Python that runs Python functions (default: $LOCAL_CLOUD_PYTHON, else `python3` on PATH). */
  python?: string;
}

export interface LocalCloud {
  apiUrl: string;
  lambdaEndpoint: string;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  accessKeyId: string;
  template: Template;
  functions: LocalFunction[];
  tables: LocalTable[];
  queues: LocalQueue[];
  topics: LocalTopic[];
  /** The SNS subscriptions it delivers (SQS by the emulator, Lambda by the local cloud). */
  subscriptions: LocalSubscription[];
  routes: LocalRoute[];
  /** The WebSocket APIs: where a client connects (ws://host:port/{stage}) and their routes. */
  webSocketApis: Array<{
    logicalId: string;
    url: string;
    routes: Array<{ routeKey: string; fn: LocalFunction }>;
  }>;
  mappings: MappingConfig[];
  /** Resolved stack outputs. */
  outputs: Record<string, string>;
  /** What the local cloud left out of the template, and why. */
  skipped: Skipped[];
  /**
   * What it has served so far, counted where it happens: API requests answered by a route, and each
   * function's invocations with their billed duration and memory (see LocalFunction.usage).
   */
  usage(): {
    apiRequests: number;
    functions: Array<{ id: string; invocations: number; durationMs: number; memoryMb: number }>;
  };
  /** The local resource (a function, table or queue) of a construct path below the stack, or a tail of it no other shares ("Replica1", "Outbox/OutboxTable"). */
  byConstruct<T extends { logicalId: string }>(items: T[], constructId: string): T;
  stop(): Promise<void>;
}

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const accessKeyId = options.accessKeyId ?? "local";
  const python = options.python ?? process.env.LOCAL_CLOUD_PYTHON ?? "python3";
  // Environments boot (their SDK loaded) while the engines start; the functions take them later.
  const runtimes = options.runtimes ?? new RuntimePool();
  if (!options.runtimes) runtimes.bootFor(options.stack.template, options.stack.assemblyDir);
  let ownedEngines: Engines | undefined;
  try {
    ownedEngines = options.engines
      ? undefined
      : await startEngines({
          dataDir: options.dataDir,
          dynamodbPort: options.dynamodbPort,
          sqsPort: options.sqsPort,
        });
  } catch (error) {
    await runtimes.stop();
    throw error;
  }
  const engines = options.engines ?? ownedEngines!;
  const stoppers: Array<() => Promise<unknown>> = [() => runtimes.stop()];
  const metrics = new LocalMetrics();
  const stop = async () => {
    for (const stopper of stoppers.reverse()) await stopper().catch(() => {});
    await ownedEngines?.stop();
  };

  try {
    const clientConfig = { region: LOCAL_REGION, credentials: localCredentials(accessKeyId) };
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: engines.dynamodbEndpoint });
    const streams = new DynamoDBStreamsClient({ ...clientConfig, endpoint: engines.dynamodbEndpoint });
    const sqs = new SQSClient({ ...clientConfig, endpoint: engines.sqsEndpoint });
    // The emulator's SNS shares the SQS endpoint.
    const sns = new SNSClient({ ...clientConfig, endpoint: engines.sqsEndpoint });
    stoppers.push(async () => {
      dynamodb.destroy();
      streams.destroy();
      sqs.destroy();
      sns.destroy();
    });

    const { stack } = options;
    const httpPort = options.httpPort ?? 3000;
    const lambdaPort = options.lambdaPort ?? 3001;
    const apiUrl = `http://${host}:${httpPort}`;
    const lambdaEndpoint = `http://${host}:${lambdaPort}`;
    const template = new Template(stack.template, stack.stackName, options.namePrefix, apiUrl);

    const skipped = unemulated(template);
    const skip = (item: Skipped) => {
      skipped.push(item);
      log(`skipped ${item.logicalId} (${item.type}): ${item.reason}`);
    };
    for (const item of skipped) log(`skipped ${item.logicalId} (${item.type}): ${item.reason}`);
    const [tables, queues, topics] = await Promise.all([
      createTables(template, dynamodb, skip),
      createQueues(template, sqs, skip),
      createTopics(template, sns, skip),
    ]);

    // An output or a function's variable that points at an API's execute-api URL is given the local
    // one, path and all: a WebSocket API's wss:// URL becomes ws:// on the same port (its https://
    // callback URL, the @connections API, is served there too).
    const bases = restApiBases(template);
    const local = (value: string) => {
      const api = /^(https|wss):\/\/([^./]+)\.execute-api\.[^/]+(\/.*)?$/.exec(value);
      if (!api) return value;
      // No path, no slash: an HTTP API's endpoint (`apiEndpoint`) has none, and callers append "/route".
      const [, scheme, apiId = "", path = ""] = api;
      if (scheme === "wss") return `${apiUrl.replace(/^http/, "ws")}${path}`;
      const base = bases.get(`${apiId}#short`) ?? bases.get(apiId);
      return base && path.startsWith(`/${base.split("/").at(-1)}`)
        ? `${apiUrl}${base.slice(0, base.lastIndexOf("/"))}${path}`
        : `${apiUrl}${path}`;
    };
    // With one WebSocket stage, a management API client made without an endpoint reaches it.
    const stages = webSocketStages(template);
    const functions = createFunctions(
      template,
      stack.assemblyDir,
      {
        ...options.environment,
        AWS_REGION: LOCAL_REGION,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: accessKeyId,
        AWS_SECRET_ACCESS_KEY: "local",
        AWS_ENDPOINT_URL_DYNAMODB: engines.dynamodbEndpoint,
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS: engines.dynamodbEndpoint,
        AWS_ENDPOINT_URL_SQS: engines.sqsEndpoint,
        AWS_ENDPOINT_URL_SNS: engines.sqsEndpoint,
        AWS_ENDPOINT_URL_LAMBDA: lambdaEndpoint,
        ...(stages.length === 1
          ? { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: `${apiUrl}/${stages[0]}` }
          : {}),
        AWS_XRAY_CONTEXT_MISSING: "IGNORE_ERROR",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        TZ: "UTC",
      },
      {
        defaultConcurrency: options.defaultConcurrency ?? 4,
        log: options.functionLog,
        metrics,
        runtimes,
        workDir: options.workDir ?? join(tmpdir(), "serverless-coordination", "local-cloud"),
        python,
        localize: local,
      },
      skip,
    );
    stoppers.push(() => Promise.all(functions.map((fn) => fn.stop())));
    for (const warning of runtimeMismatches(template, functions, undefined, python))
      log(`warning: ${warning}`);
    const registry = new FunctionRegistry(functions);

    const routes = readRoutes(template, registry, skip);
    let apiRequests = 0;
    const webSocketApis = readWebSocketApis(template, registry, skip);
    const sockets = new WebSocketApis(webSocketApis, `${host}:${httpPort}`, log);
    const { subscriptions, lambdas: lambdaSubscriptions } = await createSubscriptions(
      template,
      topics,
      sns,
      sqs,
      registry,
      skip,
    );
    const deliveries = lambdaSubscriptions.map(
      (subscription) =>
        new SnsDelivery(subscription, sqs, log, deadLetterQueue(template, subscription.fn, queues)),
    );
    stoppers.push(() => Promise.all(deliveries.map((delivery) => delivery.stop())));
    const lambdaServer = await startLambdaApi(registry, lambdaPort, host, metrics, log, (fn) => {
      const queue = deadLetterQueue(template, fn, queues);
      return queue && { queue, sqs };
    });
    // By now the HTTP API has answered its requests; what is left are the pollers' invocations.
    stoppers.push(() => closeGracefully(lambdaServer, LAMBDA_DRAIN_MS));
    // The console (local only): a live page of the protocols at /_console on the HTTP API's port.
    const localConsole = new LocalConsole(
      { functions, tables, queues },
      dynamodb,
      sqs,
      engines.sqsEndpoint,
      options.consolePlugins,
    );
    const httpServer = await startHttpApi(
      routes,
      httpPort,
      host,
      {
        accessKeyId,
        secretAccessKey: localCredentials(accessKeyId).secretAccessKey,
        region: LOCAL_REGION,
      },
      readCors(template),
      {
        local: {
          prefix: CONSOLE_PREFIX,
          handle: (request, response, url) => localConsole.handle(request, response, url),
        },
        onAnswer: (record) => {
          apiRequests++;
          localConsole.record(record);
        },
        before: (request, response, url) => sockets.handleManagement(request, response, url),
      },
    );
    sockets.attach(httpServer);

    const mappings = readMappings(template, registry, skip);
    const onError = (mapping: MappingConfig) => (error: unknown) =>
      log(`event source ${mapping.logicalId} (${mapping.fn.id}): ${String(error)}`);
    const pollers: Poller[] = mappings
      .filter((mapping) => mapping.enabled)
      .flatMap((mapping) => {
        try {
          return [
            mapping.kind === "sqs"
              ? new QueuePoller(mapping, sqs, queues, onError(mapping), options.queuePollers ?? 3)
              : new StreamPoller(mapping, streams, sqs, queues, onError(mapping)),
          ];
        } catch (error) {
          skip({
            logicalId: mapping.logicalId,
            type: "AWS::Lambda::EventSourceMapping",
            reason: (error as Error).message,
          });
          return [];
        }
      });
    // Pollers stop before the functions they invoke.
    stoppers.push(() => Promise.all(pollers.map((poller) => poller.stop())));
    // First of all (the stoppers run in reverse): the HTTP API stops taking requests and lets the ones
    // in flight finish, while the functions and the Lambda API they call are still up.
    // Every request it read is answered: none outlasts the integration timeout.
    stoppers.push(() => closeGracefully(httpServer, INTEGRATION_TIMEOUT_MS + 1_000));
    // Before that: WebSocket connections are closed (going away), or the server would wait for them.
    stoppers.push(() => sockets.stop());

    const outputs = Object.fromEntries(
      Object.entries(stack.template.Outputs ?? {})
        .filter(([, output]) => template.exists(output))
        .map(([name, output]) => {
          let value: string;
          try {
            value = local(template.resolveString(output.Value));
          } catch (error) {
            log(`output ${name}: ${(error as Error).message}`);
            value = "";
          }
          // An output as the template says: an HTTP API's endpoint has no trailing slash, its stage URL has one.
          return [name, name === "ApiUrl" && value === "" ? `${apiUrl}/` : value];
        }),
    );

    return {
      apiUrl,
      lambdaEndpoint,
      dynamodbEndpoint: engines.dynamodbEndpoint,
      sqsEndpoint: engines.sqsEndpoint,
      accessKeyId,
      template,
      functions,
      tables,
      queues,
      topics,
      subscriptions,
      routes,
      webSocketApis: webSocketApis.map((api) => ({
        logicalId: api.logicalId,
        url: `${apiUrl.replace(/^http/, "ws")}/${api.stage}`,
        routes: [...api.routes.values()].map((route) => ({ routeKey: route.routeKey, fn: route.fn })),
      })),
      mappings,
      outputs,
      skipped,
      usage: () => ({
        apiRequests,
        functions: functions.map((fn) => ({ id: fn.id, ...fn.usage() })),
      }),
      byConstruct(items, constructId) {
        const item = byConstructPath(
          items,
          (candidate) => template.constructPath(candidate.logicalId),
          constructId,
        );
        if (!item) throw new Error(`no resource with construct id ${constructId}`);
        return item;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Functions whose Lambda runtime is another Node.js major than the one running them here: their code is
 * tested on a different runtime than the one that deploys.
 */
export function runtimeMismatches(
  template: Template,
  functions: LocalFunction[],
  nodeMajor = Number(process.versions.node.split(".")[0]),
  python = "python3",
): string[] {
  const byRuntime = new Map<string, string[]>();
  const here = new Map<string, string>();
  const pythonFunctions: string[] = [];
  for (const fn of functions) {
    const runtime = String(template.resource(fn.logicalId).Properties?.Runtime ?? "");
    const major = Number(/^nodejs(\d+)/.exec(runtime)?.[1]);
    if (Number.isInteger(major) && major !== nodeMajor) {
      here.set(runtime, `Node.js ${nodeMajor}: install Node.js ${major}`);
      byRuntime.set(runtime, [...(byRuntime.get(runtime) ?? []), fn.id]);
    }
    const wanted = /^python(3\.\d+)$/.exec(runtime)?.[1];
    if (wanted && pythonInfo(python).version !== wanted) {
      here.set(
        runtime,
        `Python ${pythonInfo(python).version} (${python}): set LOCAL_CLOUD_PYTHON to a Python ${wanted}`,
      );
      byRuntime.set(runtime, [...(byRuntime.get(runtime) ?? []), fn.id]);
    }
    if (wanted) pythonFunctions.push(fn.id);
  }
  const noBoto3 =
    pythonFunctions.length > 0 && !pythonInfo(python).boto3
      ? [
          `${pythonFunctions.join(", ")} run${pythonFunctions.length === 1 ? "s" : ""} on ${python}, which cannot import boto3 (Lambda's Python runtimes provide it): install it there (pip install boto3, or Debian's python3-boto3) or set LOCAL_CLOUD_PYTHON`,
        ]
      : [];
  return [...byRuntime]
    .map(
      ([runtime, ids]) =>
        `${ids.join(", ")} deploy${ids.length === 1 ? "s" : ""} to Lambda's ${runtime} but run${ids.length === 1 ? "s" : ""} here on ${here.get(runtime)} to test what deploys`,
    )
    .concat(noBoto3);
}

/** The queue of a function's DeadLetterConfig (its failed asynchronous events), when it is one of the stack's. */
function deadLetterQueue(
  template: Template,
  fn: LocalFunction,
  queues: LocalQueue[],
): LocalQueue | undefined {
  const config = template.resource(fn.logicalId).Properties?.DeadLetterConfig as
    | { TargetArn?: unknown }
    | undefined;
  if (config?.TargetArn === undefined) return undefined;
  const arn = template.resolveString(config.TargetArn);
  return queues.find((queue) => queue.arn === arn);
}

/** How long a stop lets the Lambda API's invocations in flight finish before it cuts them. */
const LAMBDA_DRAIN_MS = 5_000;
