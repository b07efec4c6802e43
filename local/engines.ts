/**
 * The two storage engines the local cloud runs on: DynamoDB Local (AWS's own engine, shipped as a jar
 * inside the npm package amplify-dynamodb-simulator) and the SQS emulator fauxqs in library mode.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { startFauxqs } from "fauxqs";
import { LOCAL_REGION } from "./names.ts";

export interface Engines {
  dynamodbEndpoint: string;
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

function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("amplify-dynamodb-simulator/package.json")), "emulator");
}

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
    if (reason) throw new Error(`${what} exited during start-up: ${reason}`);
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

export async function startDynamoDBLocal(options: { port?: number; dataDir?: string } = {}) {
  const port = options.port ?? (await freePort());
  const dir = emulatorDir();
  const args = [
    `-Djava.library.path=${join(dir, "DynamoDBLocal_lib")}`,
    "-jar",
    join(dir, "DynamoDBLocal.jar"),
  ];
  args.push("-port", String(port));
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    args.push("-dbPath", options.dataDir);
  } else {
    args.push("-inMemory");
  }
  const child: ChildProcess = spawn("java", args, { stdio: ["ignore", "ignore", "pipe"] });
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
  // Never leave the JVM behind, even when this process ends without stopping the engines.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  const endpoint = `http://127.0.0.1:${port}`;
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
    child.kill("SIGKILL");
    throw error;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      }),
  };
}

export async function startSqsEmulator(options: { port?: number } = {}) {
  const server = await startFauxqs({ port: options.port ?? 0, logger: false });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const client = new SQSClient({ endpoint, region: LOCAL_REGION, credentials: localCredentials("probe") });
  await waitUntil("SQS emulator", () => client.send(new ListQueuesCommand({})), 10_000);
  client.destroy();
  return { endpoint, stop: () => server.stop() };
}

export async function startEngines(options: EngineOptions = {}): Promise<Engines> {
  const [dynamodb, sqs] = await Promise.all([
    startDynamoDBLocal({ port: options.dynamodbPort, dataDir: options.dataDir }),
    startSqsEmulator({ port: options.sqsPort }),
  ]);
  return {
    dynamodbEndpoint: dynamodb.endpoint,
    sqsEndpoint: sqs.endpoint,
    stop: async () => {
      await Promise.all([dynamodb.stop(), sqs.stop()]);
    },
  };
}
