/**
 * Lambda's Runtime API (2018-06-01) and the execution environments that use it: a function whose runtime
 * is not Node.js runs as a process of its own, as Lambda runs it: the runtime's bootstrap (ours for
 * Python, the asset's own `bootstrap` for provided.al2023 / provided.al2) asks
 * `GET /2018-06-01/runtime/invocation/next` for work and posts the answer to
 * `/invocation/{id}/response` or `/invocation/{id}/error`, or `/init/error` when it cannot start. Each
 * environment has its Runtime API on a port of its own (127.0.0.1), so it runs one invocation at a time.
 *
 * The environment looks like the worker threads Node.js functions run in (messages in and out, stdout
 * and stderr, exit), so a LocalFunction drives both the same way.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";

const PREFIX = "/2018-06-01/runtime";
const PYTHON_BOOTSTRAP = fileURLToPath(new URL("./runtime/python-bootstrap.py", import.meta.url));

/** What a LocalFunction needs of an execution environment (a worker thread or a process). */
export interface ExecutionEnvironment {
  readonly stdout: Readable;
  readonly stderr: Readable;
  postMessage(message: unknown): void;
  // biome-ignore lint/suspicious/noExplicitAny: the listeners of a worker thread and of a process differ
  on(event: string, listener: (...args: any[]) => void): this;
  removeAllListeners(event?: string): this;
  terminate(): Promise<unknown>;
}

export interface ProcessFunction {
  codeDir: string;
  handler: string;
  runtime: string;
  functionName: string;
  functionArn: string;
  memoryMb: number;
}

/** The command that runs a runtime's bootstrap, or why this runtime cannot run here. */
export function bootstrapCommand(
  runtime: string,
  codeDir: string,
  python: string,
): { command: string; args: string[] } {
  if (/^python3\.\d+$/.test(runtime)) return { command: python, args: ["-u", PYTHON_BOOTSTRAP] };
  if (runtime === "provided.al2023" || runtime === "provided.al2" || runtime === "provided") {
    const bootstrap = join(codeDir, "bootstrap");
    if (!existsSync(bootstrap))
      throw new Error(`runtime ${runtime}: the asset has no bootstrap executable at its root`);
    return { command: bootstrap, args: [] };
  }
  throw new Error(
    `runtime ${runtime || "(container image)"} does not run locally (Node.js, Python 3 and provided runtimes do)`,
  );
}

interface Invocation {
  requestId: string;
  payload: string;
  deadline: number;
}

/**
 * One execution environment as a process, with its own Runtime API. Messages as a worker's:
 * `{ requestId, payload, deadline }` in; `{ initialized }` once the runtime first asks for work (or
 * reports an init error), `{ requestId, ok, payload | error }` for each answer.
 */
export class ProcessEnvironment extends EventEmitter implements ExecutionEnvironment {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private readonly server: Server;
  private child?: ChildProcess;
  private queued?: Invocation;
  private current?: Invocation;
  private waitingForWork?: ServerResponse;
  private initialized = false;
  private initError?: { errorType: string; errorMessage: string; trace: string[] };
  private ended = false;
  private readonly fn: ProcessFunction;

  constructor(fn: ProcessFunction, env: Record<string, string>, python = "python3") {
    super();
    this.fn = fn;
    const { command, args } = bootstrapCommand(fn.runtime, fn.codeDir, python);
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error) => {
        response.writeHead(500).end(String(error));
      });
    });
    this.server.listen(0, "127.0.0.1", () => {
      if (this.ended) return;
      const { port } = this.server.address() as AddressInfo;
      const child = spawn(command, args, {
        cwd: fn.codeDir,
        env: {
          // What Lambda sets for every runtime; the function's own variables come with `env`.
          PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
          LANG: "en_US.UTF-8",
          ...env,
          AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
          _HANDLER: fn.handler,
          LAMBDA_TASK_ROOT: fn.codeDir,
          AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
          AWS_LAMBDA_LOG_STREAM_NAME: `local/${port}`,
          PYTHONUNBUFFERED: "1",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      this.child = child;
      child.stdout.pipe(this.stdout);
      child.stderr.pipe(this.stderr);
      child.on("error", (error) => this.emit("error", error));
      child.on("exit", (code, signal) => {
        this.server.close();
        if (!this.ended) this.emit("exit", code ?? signal);
      });
    });
  }

  postMessage(message: unknown): void {
    const invocation = message as Invocation;
    if (this.initError) {
      this.emit("message", { requestId: invocation.requestId, ok: false, error: this.initError });
      return;
    }
    this.queued = invocation;
    this.hand();
  }

  /** Answers the runtime's waiting `next` with the queued invocation, if both are there. */
  private hand(): void {
    const response = this.waitingForWork;
    const invocation = this.queued;
    if (!response || !invocation) return;
    this.waitingForWork = undefined;
    this.queued = undefined;
    this.current = invocation;
    response.writeHead(200, {
      "content-type": "application/json",
      "lambda-runtime-aws-request-id": invocation.requestId,
      "lambda-runtime-deadline-ms": String(invocation.deadline),
      "lambda-runtime-invoked-function-arn": this.fn.functionArn,
      "lambda-runtime-trace-id": `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${invocation.requestId.replaceAll("-", "").slice(0, 24)};Sampled=0`,
    });
    response.end(invocation.payload);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    const accepted = () => {
      response.writeHead(202, { "content-type": "application/json" });
      response.end('{"status":"OK"}');
    };
    if (request.method === "GET" && path === `${PREFIX}/invocation/next`) {
      // Its first request for work ends the environment's init (its cold start).
      if (!this.initialized) {
        this.initialized = true;
        this.emit("message", { initialized: true });
      }
      this.waitingForWork = response;
      this.hand();
      return;
    }
    if (request.method === "POST" && path === `${PREFIX}/init/error`) {
      this.initError = errorOf(body, request, "Runtime.InitError");
      accepted();
      if (!this.initialized) {
        this.initialized = true;
        this.emit("message", { initialized: false });
      }
      const pending = this.queued ?? this.current;
      if (pending) this.postMessage(pending);
      this.queued = undefined;
      return;
    }
    const answer = new RegExp(`^${PREFIX}/invocation/([^/]+)/(response|error)$`).exec(path);
    if (request.method === "POST" && answer) {
      const [, requestId, kind] = answer;
      if (this.current?.requestId !== requestId) {
        response.writeHead(400, { "content-type": "application/json" });
        response.end(
          JSON.stringify({
            errorType: "InvalidRequestID",
            errorMessage: `no invocation ${requestId} is running`,
          }),
        );
        return;
      }
      this.current = undefined;
      accepted();
      if (kind === "response") {
        this.emit("message", { requestId, ok: true, payload: parseOrText(body) });
      } else {
        this.emit("message", { requestId, ok: false, error: errorOf(body, request, "Unhandled") });
      }
      return;
    }
    response.writeHead(404, { "content-type": "application/json" });
    response.end(JSON.stringify({ errorType: "NotFound", errorMessage: `${request.method} ${path}` }));
  }

  async terminate(): Promise<void> {
    this.ended = true;
    this.waitingForWork?.destroy();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
    this.server.close();
    this.server.closeAllConnections();
  }
}

function parseOrText(body: string): unknown {
  if (body === "") return null;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** An error a runtime posted: Lambda's shape `{ errorMessage, errorType, stackTrace }`. */
function errorOf(body: string, request: IncomingMessage, fallbackType: string) {
  const parsed = parseOrText(body) as Record<string, unknown> | string | null;
  const fields = typeof parsed === "object" && parsed !== null ? parsed : {};
  const headerType = request.headers["lambda-runtime-function-error-type"];
  const trace = fields.stackTrace;
  return {
    errorType: String(fields.errorType ?? headerType ?? fallbackType),
    errorMessage: String(fields.errorMessage ?? (typeof parsed === "string" ? parsed : "")),
    trace: Array.isArray(trace) ? trace.map(String) : [],
  };
}
