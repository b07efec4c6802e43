/**
 * The two storage engines the local cloud runs on: DynamoDB Local (AWS's own engine, shipped as a jar
 * inside the npm package amplify-dynamodb-simulator) and the SQS emulator fauxqs in library mode.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
// The SDK clients and the SQS emulator load after the JVM is spawned: its boot is the longest part of a
// start, and it need not wait for them.
import type { buildApp } from "fauxqs";
import {
  buildClassArchiveInBackground,
  type ClassArchiveOptions,
  type DynamoDBLocalLaunch,
  discardClassArchive,
  dynamodbLaunch,
  JVM_CRASH_REPORTS,
} from "./class-archive.ts";
import { LOCAL_REGION } from "./names.ts";

export interface Engines {
  dynamodbEndpoint: string;
  /** DynamoDB Local runs in a network namespace of its own (see startDynamoDBLocal). */
  dynamodbIsolated: boolean;
  /** DynamoDB Local's class archive (see class-archive.ts): mapped, being built for the next start, or neither. */
  dynamodbClassArchive: "mapped" | "building" | "none";
  sqsEndpoint: string;
  stop(): Promise<void>;
}

export interface EngineOptions {
  dynamodbPort?: number;
  sqsPort?: number;
  /** Directory for DynamoDB Local's files; in memory when absent. */
  dataDir?: string;
}

/** Credentials for the local engines. DynamoDB Local keeps one database per access key id. */
export function localCredentials(accessKeyId: string) {
  return { accessKeyId, secretAccessKey: "local" };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** The directory of DynamoDB Local's jar, inside the npm package amplify-dynamodb-simulator. */
export function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("amplify-dynamodb-simulator/package.json")), "emulator");
}

/** An engine's process ended before it answered (rather than, say, its port being taken). */
class ExitedDuringStartError extends Error {}

async function waitUntil(
  what: string,
  probe: () => Promise<unknown>,
  timeoutMs: number,
  died?: () => string | undefined,
) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const reason = died?.();
    if (reason) throw new ExitedDuringStartError(`${what} exited during start-up: ${reason}`);
    try {
      await probe();
      return;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what} did not answer within ${timeoutMs} ms: ${String(last)}`);
}

/** The port DynamoDB Local listens on inside its own network namespace (nothing else is there). */
const ISOLATED_PORT = 8000;

/**
 * Whether DynamoDB Local can run in a network namespace of its own: Linux, `unshare` and `ip` present,
 * and unprivileged user namespaces allowed. DynamoDB Local has no option to choose the address it binds
 * (it listens on every interface); in its own namespace the only interface is loopback, and a relay
 * process there accepts on a socket this process bound to the host's loopback (sockets keep the namespace
 * they were made in). `SC_DYNAMODB_ISOLATION=off` turns it off.
 */
function canIsolate(): boolean {
  if (process.platform !== "linux" || process.env.SC_DYNAMODB_ISOLATION === "off") return false;
  const probe = spawnSync("unshare", ["-rn", "sh", "-c", "ip link set lo up"], { stdio: "ignore" });
  return probe.status === 0;
}

/**
 * DynamoDB Local, reachable on 127.0.0.1:`port` only. Started with `-disableTelemetry` and a CORS
 * allow-list of no real origin (its default is `*`, which lets any web page a developer opens read and
 * write the local tables). Where the platform allows it, the JVM runs in a network namespace of its own
 * (see canIsolate) and a relay beside it carries the host's loopback connections to it; elsewhere it listens on every
 * interface, and start-up says so. The JVM runs in its own process group, so a Ctrl-C in the terminal
 * reaches this process only, which stops it after the functions have drained.
 */
export async function startDynamoDBLocal(options: DynamoDBLocalOptions = {}) {
  const dir = emulatorDir();
  if (options.launch) return launchDynamoDBLocal(options, options.launch, false);
  const launch = dynamodbLaunch(dir, options.classArchive);
  if (!launch.archived) return launchDynamoDBLocal(options, launch, true);
  try {
    return await launchDynamoDBLocal(options, launch, false);
  } catch (error) {
    if (!(error instanceof ExitedDuringStartError)) throw error;
    // A class archive damaged since it was built (Java crashes on one at start-up): set aside, and the
    // engine starts without it; the next start builds a new one.
    discardClassArchive(dir, options.classArchive);
    const plain = { jar: join(dir, "DynamoDBLocal.jar"), jvmArgs: [], archived: false };
    return launchDynamoDBLocal(options, plain, false);
  }
}

interface DynamoDBLocalOptions {
  port?: number;
  dataDir?: string;
  /** The jar and JVM options; by default the class archive's when one is built (see class-archive.ts). */
  launch?: DynamoDBLocalLaunch;
  /** Where the class archive is kept (tests); the user's cache by default. */
  classArchive?: ClassArchiveOptions;
  /** How long `stop` lets the JVM exit on SIGTERM before it kills it; 3 s by default. */
  stopGraceMs?: number;
}

async function launchDynamoDBLocal(
  options: DynamoDBLocalOptions,
  launch: DynamoDBLocalLaunch,
  /** Start building a class archive in the background once the engine answers. */
  buildArchive: boolean,
) {
  const port = options.port ?? (await freePort());
  const dir = emulatorDir();
  const isolated = canIsolate();
  const java = [
    "java",
    JVM_CRASH_REPORTS,
    // Log4j's simple logger (errors, to stderr) instead of log4j-core, whose XML configuration, plugin
    // scan and JMX beans take about 0.15 s of the JVM's boot; the local cloud reads only its errors.
    "-Dlog4j2.loggerContextFactory=org.apache.logging.log4j.simple.SimpleLoggerContextFactory",
    // The client compiler only: the server compiler's warm-up costs more CPU than it saves within a
    // local cloud's session of minutes on a small machine. Measured here: the JVM's boot 1.8 s -> 1.4 s,
    // `npm start` with nothing changed about 0.5 s sooner, the load bench's throughput unchanged.
    "-XX:TieredStopAtLevel=1",
    ...launch.jvmArgs,
    `-Djava.library.path=${join(dir, "DynamoDBLocal_lib")}`,
    "-jar",
    launch.jar,
    "-port",
    String(isolated ? ISOLATED_PORT : port),
    "-disableTelemetry",
    // An allow-list with no origin a browser can have: cross-origin requests are refused.
    "-cors",
    "null",
  ];
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    java.push("-dbPath", options.dataDir);
  } else {
    java.push("-inMemory");
  }
  const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
  // In a namespace, the relay gets the listening socket over an IPC channel (fd 3, which the JVM does not
  // keep): the JVM without stdin; the relay keeps ours and takes the JVM down when it closes.
  const child: ChildProcess = isolated
    ? spawn(
        "unshare",
        [
          "-rn",
          "sh",
          "-c",
          `ip link set lo up && { ${java.map(quote).join(" ")} </dev/null 3>&- & exec ${quote(process.execPath)} ${quote(fileURLToPath(new URL("./runtime/namespace-relay.mjs", import.meta.url)))} ${ISOLATED_PORT} $!; }`,
        ],
        { stdio: ["pipe", "ignore", "pipe", "ipc"], detached: true },
      )
    : spawn(java[0]!, java.slice(1), { stdio: ["ignore", "ignore", "pipe"], detached: true });
  // The relay's lifeline: held open, never written, and not keeping this process alive by itself.
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let stderr = "";
  let exit: string | undefined;
  child.stderr?.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  child.on("error", (error) => {
    exit = `${error.message} (is Java 17+ installed and on PATH?)`;
  });
  child.on("exit", (code, signal) => {
    exit ??= `code ${code} signal ${signal} ${stderr}`;
  });
  // The whole group (the JVM, and in a namespace the relay): never leave it behind, even when this
  // process ends without stopping the engines.
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const groupAlive = () => {
    try {
      if (child.pid) process.kill(-child.pid, 0);
      return child.pid !== undefined;
    } catch {
      return false;
    }
  };
  const killOnExit = () => killGroup("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));

  // In a namespace: the listening socket is made here, on the host's loopback, and handed to the relay.
  if (isolated) {
    const listener = createServer();
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(port, "127.0.0.1", () => resolve());
    });
    const handedOver = new Promise<void>((resolve) =>
      child.on("message", (message) => message === "listening" && resolve()),
    );
    child.send("listen", listener);
    await Promise.race([handedOver, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    // The relay has its own copy; this one would take connections too.
    listener.close();
    // The channel has done its work (and would keep this process alive).
    child.disconnect();
  }

  const endpoint = `http://127.0.0.1:${port}`;
  const { DynamoDBClient, ListTablesCommand } = await import("@aws-sdk/client-dynamodb");
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: localCredentials("probe"),
  });
  try {
    await waitUntil(
      "DynamoDB Local",
      () => client.send(new ListTablesCommand({})),
      20_000,
      () => exit,
    );
  } catch (error) {
    killGroup("SIGKILL");
    // Gone before this returns: its port is free for another start.
    for (let waited = 0; groupAlive() && waited < 3000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    throw error;
  } finally {
    client.destroy();
  }
  // Built once per machine (and jar, and java), after a start: the next starts boot faster.
  const building = buildArchive && buildClassArchiveInBackground(dir, options.classArchive);
  return {
    endpoint,
    /** DynamoDB Local's class archive: mapped by this JVM, being built for the next, or neither. */
    classArchive: launch.archived
      ? ("mapped" as const)
      : building
        ? ("building" as const)
        : ("none" as const),
    /** Where DynamoDB Local listens: its own network namespace, or every interface of this machine. */
    isolated,
    /** Stops the whole process group (the JVM and the relay) and waits until none of it is left. */
    stop: async () => {
      killGroup("SIGTERM");
      const deadline = Date.now() + (options.stopGraceMs ?? 3000);
      while (groupAlive()) {
        if (Date.now() > deadline) killGroup("SIGKILL");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

/**
 * The emulator's stores. Its default SQS store names queues `http://sqs.<region>.localhost:<port>/...`,
 * a host that does not resolve everywhere (glibc does not resolve subdomains of localhost), so code that
 * sends to a queue by its URL, as unmodified code does, fails with ENOTFOUND. A store with no host of its
 * own names each queue after the host its CreateQueue request came to (127.0.0.1:<port>), which does.
 * The stores are not among the package's exports, so they are loaded from beside its entry point.
 */
async function resolvableStores() {
  // The package's own directory, found as Node would (its exports name no CommonJS entry to resolve).
  const root = (createRequire(import.meta.url).resolve.paths("fauxqs") ?? [])
    .map((dir) => join(dir, "fauxqs", "dist"))
    .find((dir) => existsSync(join(dir, "app.js")));
  if (!root) throw new Error("the SQS emulator (fauxqs) is not installed: run npm install");
  const load = async (path: string) =>
    (await import(pathToFileURL(join(root, path)).href)) as Record<string, new () => object>;
  const [{ SqsStore }, { SnsStore }, { S3Store }] = await Promise.all([
    load("sqs/sqsStore.js"),
    load("sns/snsStore.js"),
    load("s3/s3Store.js"),
  ]);
  const sqsStore = new SqsStore!() as { host: string };
  sqsStore.host = "";
  return { sqsStore, snsStore: new SnsStore!(), s3Store: new S3Store!() } as unknown as NonNullable<
    Parameters<typeof buildApp>[0]
  >["stores"];
}

/** One request to the SQS endpoint, as the front saw it (tests check what protocol clients spoke). */
export interface SqsRequestRecord {
  /** "json": AmazonSQS.* targets; "query": SQS's form-encoded protocol, translated; "sns": passed on;
   * "refused": nothing the endpoint understands (answered 400). */
  protocol: "json" | "query" | "sns" | "inspect" | "refused";
  action: string;
  path: string;
  status: number;
}

/**
 * The SQS emulator on 127.0.0.1 only, behind a front of our own: the emulator serves SQS's JSON protocol
 * (and SNS's query protocol), and takes any other request for S3 or SNS, so a query-protocol SendMessage
 * posted to a queue URL would be answered as an S3 request, 200 and lost. The front passes the JSON
 * protocol on, translates SQS's query protocol (sqs-query.ts), and refuses anything else with 400:
 * a request it does not understand never gets a success answer. Queue URLs name the host a request came
 * to, so they resolve.
 */
export async function startSqsEmulator(
  options: { port?: number; onRequest?: (record: SqsRequestRecord) => void } = {},
) {
  const [{ buildApp }, stores, query] = await Promise.all([
    import("fauxqs"),
    resolvableStores(),
    import("./sqs-query.ts"),
  ]);
  const app = buildApp({ logger: false, stores });
  await app.ready();
  const server = createHttpServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const record = (protocol: SqsRequestRecord["protocol"], action: string, status: number) =>
      options.onRequest?.({ protocol, action, path: url.pathname, status });
    const passOn = async (protocol: "json" | "sns" | "inspect", action: string) => {
      const answer = await app.inject({
        method: request.method as "POST",
        url: request.url ?? "/",
        headers: request.headers,
        payload: raw,
      });
      const { "content-length": _, "transfer-encoding": __, connection: ___, ...headers } = answer.headers;
      response.writeHead(answer.statusCode, headers as Record<string, string>);
      response.end(answer.rawPayload);
      record(protocol, action, answer.statusCode);
    };
    const xml = (status: number, body: string) => {
      response.writeHead(status, { "content-type": "text/xml" });
      response.end(body);
    };
    try {
      // The emulator's own read-only inspection of a queue's messages (the console's peek).
      if (request.method === "GET" && url.pathname.startsWith("/_fauxqs/queues"))
        return await passOn("inspect", "InspectQueue");
      const target = String(request.headers["x-amz-target"] ?? "");
      if (target.startsWith("AmazonSQS.")) return await passOn("json", target.slice("AmazonSQS.".length));
      const params = new URLSearchParams(url.search);
      if (/^application\/x-www-form-urlencoded/i.test(String(request.headers["content-type"] ?? "")))
        for (const [name, value] of new URLSearchParams(raw.toString("utf8"))) params.append(name, value);
      const action = params.get("Action");
      if (!action) {
        const message = `this SQS endpoint serves SQS's JSON protocol (X-Amz-Target: AmazonSQS.*) and query protocol (Action=...); ${request.method} ${url.pathname} is neither`;
        xml(400, query.errorXml("InvalidAction", message));
        return record("refused", "", 400);
      }
      // The service a signature is scoped to, else the API version, tells SNS from SQS.
      const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(
        String(request.headers.authorization ?? ""),
      )?.[1];
      if (service === "sns" || (service === undefined && params.get("Version") === "2010-03-31"))
        return await passOn("sns", action);
      let translated: ReturnType<typeof query.translateQuery>;
      try {
        translated = query.translateQuery(
          params,
          url.pathname === "/" ? undefined : `http://${request.headers.host}${url.pathname}`,
        );
      } catch (error) {
        if (!(error instanceof query.QueryError)) throw error;
        xml(400, query.errorXml(error.code, error.message));
        return record("refused", action, 400);
      }
      const answer = await app.inject({
        method: "POST",
        url: "/",
        headers: {
          host: request.headers.host ?? url.host,
          "content-type": "application/x-amz-json-1.0",
          "x-amz-target": translated.target,
          ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
        },
        payload: JSON.stringify(translated.body),
      });
      const queryError = answer.headers["x-amzn-query-error"];
      const out = translated.answer(
        answer.statusCode,
        answer.body,
        typeof queryError === "string" ? queryError : undefined,
      );
      xml(out.status, out.xml);
      record("query", action, out.status);
    } catch (error) {
      if (!response.headersSent) xml(500, query.errorXml("InternalFailure", String(error), "Receiver"));
      else response.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const endpoint = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await app.close();
  };
  const { ListQueuesCommand, SQSClient } = await import("@aws-sdk/client-sqs");
  const client = new SQSClient({ endpoint, region: LOCAL_REGION, credentials: localCredentials("probe") });
  await waitUntil("SQS emulator", () => client.send(new ListQueuesCommand({})), 10_000);
  client.destroy();
  return { endpoint, stop };
}

export async function startEngines(options: EngineOptions = {}): Promise<Engines> {
  const [dynamodb, sqs] = await Promise.all([
    startDynamoDBLocal({ port: options.dynamodbPort, dataDir: options.dataDir }),
    startSqsEmulator({ port: options.sqsPort }),
  ]);
  return {
    dynamodbEndpoint: dynamodb.endpoint,
    dynamodbIsolated: dynamodb.isolated,
    dynamodbClassArchive: dynamodb.classArchive,
    sqsEndpoint: sqs.endpoint,
    stop: async () => {
      await Promise.all([dynamodb.stop(), sqs.stop()]);
    },
  };
}

/**
 * The operations the stack runs on DynamoDB Local, once each (the class archive records the classes
 * they load): a table with a stream and TTL; plain, conditional and transactional writes and reads,
 * a refused condition that returns the item, a query; and a read of the stream.
 */
export async function exerciseDynamoDB(endpoint: string): Promise<void> {
  const ddb = await import("@aws-sdk/client-dynamodb");
  const { DynamoDBStreamsClient, DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand } =
    await import("@aws-sdk/client-dynamodb-streams");
  const config = { endpoint, region: LOCAL_REGION, credentials: localCredentials("archive") };
  const client = new ddb.DynamoDBClient(config);
  const streams = new DynamoDBStreamsClient(config);
  const TableName = "archive";
  const key = (id: string) => ({ pk: { S: id }, sk: { S: "v" } });
  try {
    const created = await client.send(
      new ddb.CreateTableCommand({
        TableName,
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" },
        ],
        BillingMode: "PAY_PER_REQUEST",
        StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
      }),
    );
    await client.send(
      new ddb.UpdateTimeToLiveCommand({
        TableName,
        TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true },
      }),
    );
    await client.send(new ddb.DescribeTableCommand({ TableName }));
    await client.send(new ddb.PutItemCommand({ TableName, Item: { ...key("a"), n: { N: "1" } } }));
    await client.send(
      new ddb.UpdateItemCommand({
        TableName,
        Key: key("a"),
        UpdateExpression: "SET n = n + :one",
        ConditionExpression: "n = :n",
        ExpressionAttributeValues: { ":one": { N: "1" }, ":n": { N: "1" } },
        ReturnValues: "ALL_NEW",
      }),
    );
    await client
      .send(
        new ddb.PutItemCommand({
          TableName,
          Item: key("a"),
          ConditionExpression: "attribute_not_exists(pk)",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      )
      .catch(() => {});
    await client.send(
      new ddb.TransactWriteItemsCommand({
        ClientRequestToken: "archive",
        TransactItems: [
          { Put: { TableName, Item: key("b"), ConditionExpression: "attribute_not_exists(pk)" } },
          { ConditionCheck: { TableName, Key: key("a"), ConditionExpression: "attribute_exists(pk)" } },
        ],
      }),
    );
    await client.send(
      new ddb.TransactGetItemsCommand({
        TransactItems: [{ Get: { TableName, Key: key("a") } }, { Get: { TableName, Key: key("b") } }],
      }),
    );
    await client.send(new ddb.GetItemCommand({ TableName, Key: key("a"), ConsistentRead: true }));
    await client.send(
      new ddb.QueryCommand({
        TableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": { S: "a" } },
      }),
    );
    await client.send(new ddb.BatchGetItemCommand({ RequestItems: { [TableName]: { Keys: [key("a")] } } }));
    await client.send(new ddb.DeleteItemCommand({ TableName, Key: key("b") }));
    const StreamArn = created.TableDescription?.LatestStreamArn;
    const stream = await streams.send(new DescribeStreamCommand({ StreamArn }));
    const ShardId = stream.StreamDescription?.Shards?.[0]?.ShardId;
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({ StreamArn, ShardId, ShardIteratorType: "TRIM_HORIZON" }),
    );
    await streams.send(new GetRecordsCommand({ ShardIterator }));
    await client.send(new ddb.ScanCommand({ TableName, Limit: 10 }));
  } finally {
    client.destroy();
    streams.destroy();
  }
}

/**
 * Runs the operations a stack runs on the engines, from `concurrency` loops, until `until` settles, so
 * that their code is compiled (DynamoDB Local's JIT, the SQS emulator's) before the first requests of a
 * user's: a table and a queue of the local cloud's own, under an access key of its own (DynamoDB Local
 * keeps one database per key), deleted at the end. Nothing of the user's is touched.
 */
export async function warmEngines(
  engines: Pick<Engines, "dynamodbEndpoint" | "sqsEndpoint">,
  until: Promise<unknown>,
  concurrency = 4,
): Promise<number> {
  const ddb = await import("@aws-sdk/client-dynamodb");
  const sqs = await import("@aws-sdk/client-sqs");
  const config = { region: LOCAL_REGION, credentials: localCredentials("localcloudwarmup") };
  const client = new ddb.DynamoDBClient({ ...config, endpoint: engines.dynamodbEndpoint });
  const queues = new sqs.SQSClient({ ...config, endpoint: engines.sqsEndpoint });
  const TableName = `warm-up-${process.pid}`;
  let done = false;
  void until.finally(() => {
    done = true;
  });
  let rounds = 0;
  try {
    await client.send(
      new ddb.CreateTableCommand({
        TableName,
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    const { QueueUrl } = await queues.send(
      new sqs.CreateQueueCommand({
        QueueName: `${TableName}.fifo`,
        Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
      }),
    );
    await Promise.all(
      Array.from({ length: concurrency }, async (_, loop) => {
        for (let n = 0; !done; n++, rounds++) {
          const pk = { S: `k${loop}-${n % 16}` };
          await client.send(new ddb.PutItemCommand({ TableName, Item: { pk, n: { N: String(n) } } }));
          await client
            .send(
              new ddb.UpdateItemCommand({
                TableName,
                Key: { pk },
                UpdateExpression: "SET n = n + :one",
                ConditionExpression: "n = :n",
                ExpressionAttributeValues: { ":one": { N: "1" }, ":n": { N: String(n) } },
              }),
            )
            .catch(() => {});
          await client.send(
            new ddb.TransactWriteItemsCommand({
              TransactItems: [
                { Put: { TableName, Item: { pk: { S: `t${loop}-${n % 16}` }, n: { N: "1" } } } },
                { ConditionCheck: { TableName, Key: { pk }, ConditionExpression: "attribute_exists(pk)" } },
              ],
            }),
          );
          await client.send(new ddb.GetItemCommand({ TableName, Key: { pk }, ConsistentRead: true }));
          await queues.send(
            new sqs.SendMessageCommand({ QueueUrl, MessageBody: `${n}`, MessageGroupId: `g${loop}` }),
          );
          const { Messages } = await queues.send(
            new sqs.ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
          );
          for (const message of Messages ?? [])
            await queues.send(
              new sqs.DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }),
            );
        }
      }),
    );
    await queues.send(new sqs.DeleteQueueCommand({ QueueUrl }));
    await client.send(new ddb.DeleteTableCommand({ TableName }));
  } finally {
    client.destroy();
    queues.destroy();
  }
  return rounds;
}
