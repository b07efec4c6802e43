/**
 * `npm start` as a user runs it, in a child process: for the e2e tests of other people's CDK apps
 * (`--app`, `--assembly`). Every port is a free one, so runs never collide.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "@serverless-coordination/local-cloud";
import { fromRoot } from "../../infra/paths.ts";

const SOURCE_BIN = "packages/local-cloud/src/bin.ts";

export interface AppProcess {
  apiUrl: string;
  /** The Lambda API (and the fault-injection routes). */
  lambdaUrl: string;
  /** DynamoDB Local (access key id "local"). */
  dynamodbUrl: string;
  /** The stack outputs as printed ("Name = value"). */
  outputs: Record<string, string>;
  /** The lines of the "skipped" list. */
  skipped: string[];
  output: () => string;
  stop(): Promise<void>;
  /** Ctrl-C: sends SIGINT and answers the exit status. */
  interrupt(): Promise<number | null>;
  pid: number;
}

/** The lines of one titled list in the start-up banner ("outputs (2)" then indented lines). */
function section(text: string, title: string): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.startsWith(`${title} (`));
  if (start < 0) return [];
  const items: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("  ")) break;
    items.push(line.trim());
  }
  return items;
}

/**
 * Runs `npm start -- <args>` (or, with `bin`, that local-cloud bin in `cwd`) and waits for "ready", or for
 * the process to exit (rejected with its output).
 */
export async function runStart(
  args: string[],
  timeoutMs = 90_000,
  {
    bin = SOURCE_BIN,
    cwd = fromRoot("."),
    env = {},
    quiet = true,
  }: { bin?: string; cwd?: string; env?: Record<string, string>; quiet?: boolean } = {},
): Promise<AppProcess> {
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      // This project's app loads its packages from their sources (its console plug-in too).
      ...(bin === SOURCE_BIN ? ["--conditions=serverless-coordination:source"] : []),
      bin,
      ...args,
      "--in-memory",
      ...(quiet ? ["--quiet"] : []),
      "--port",
      String(ports[0]),
      "--lambda-port",
      String(ports[1]),
      "--dynamodb-port",
      String(ports[2]),
      "--sqs-port",
      String(ports[3]),
    ],
    { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let text = "";
  child.stdout?.on("data", (chunk) => {
    text += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    text += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + timeoutMs;
  while (!text.includes("\nready in ")) {
    if (child.exitCode !== null)
      throw Object.assign(new Error(`npm start exited ${child.exitCode}:\n${text}`), {
        code: child.exitCode,
        output: text,
      });
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`npm start was not ready in ${timeoutMs} ms:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const outputs = Object.fromEntries(
    section(text, "outputs").map((line) => {
      const at = line.indexOf(" = ");
      return [line.slice(0, at), line.slice(at + 3)];
    }),
  );
  return {
    apiUrl: `http://127.0.0.1:${ports[0]}`,
    lambdaUrl: `http://127.0.0.1:${ports[1]}`,
    dynamodbUrl: `http://127.0.0.1:${ports[2]}`,
    outputs,
    skipped: section(text, "skipped (not run locally)"),
    output: () => text,
    stop,
    interrupt: async () => {
      if (child.exitCode === null) child.kill("SIGINT");
      return exited;
    },
    pid: child.pid as number,
  };
}

/** Runs `npm start -- <args>` expecting it to refuse: its exit code and output. */
export async function refusedStart(args: string[]): Promise<{ code: number | null; output: string }> {
  try {
    const started = await runStart(args);
    await started.stop();
    return { code: 0, output: started.output() };
  } catch (error) {
    const { code, output } = error as { code?: number | null; output?: string };
    if (output === undefined) throw error;
    return { code: code ?? null, output };
  }
}
