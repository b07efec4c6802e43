/**
 * Lambda functions of the template, each run from its bundled asset in worker threads: every worker is
 * one execution environment with its own module state and environment, running one invocation at a
 * time; a function has at most `concurrency` of them. A timed-out environment is discarded, as Lambda
 * does. Fault injection makes every invocation fail or hang until it is reset.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { getCompileCacheDir } from "node:module";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import type { LocalMetrics } from "./metrics.ts";
import { bootstrapCommand, type ExecutionEnvironment, ProcessEnvironment } from "./runtime-api.ts";
import type { Skipped } from "./support.ts";
import type { CfnResource, Template } from "./template.ts";

/**
 * Injected faults, per function, until reset: every invocation fails (`error`), hangs until its timeout
 * (`timeout`), starts late (`delay`: a request that reaches the function after its caller may have given
 * up, then runs in full), or runs in full and then fails to its caller (`lose-reply`: the effect happened,
 * the caller sees a function error, as after a reply lost in the network).
 */
export type FaultMode = "none" | "error" | "timeout" | "delay" | "lose-reply";

/** A `delay` fault's lateness: `delayMs` plus up to `jitterMs`, drawn per invocation. */
export interface FaultDelay {
  delayMs: number;
  jitterMs: number;
}

export type InvokeResult =
  | { ok: true; payload: unknown }
  | { ok: false; error: { errorType: string; errorMessage: string; trace?: string[] } };

interface Environment {
  /** A worker thread (Node.js runtimes) or a process on the Runtime API (runtime-api.ts). */
  worker: ExecutionEnvironment;
  busy: boolean;
  /** The invocation this environment is running, if any. */
  requestId?: string;
  /** Runs code the function no longer has (--watch replaced it): discarded once it is done. */
  stale?: boolean;
}

interface Pending {
  resolve: (result: InvokeResult) => void;
}

const WORKER_SCRIPT = new URL("./runtime/worker.mjs", import.meta.url);

/** Lambda's limit on a function's init phase (loading its module), for on-demand environments. */
const INIT_TIMEOUT_MS = 10_000;

/** Lambda's limit on a synchronous invocation's payload. */
export const MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;

export interface FunctionOptions {
  /** Upper bound of concurrent environments when the template reserves none. */
  defaultConcurrency: number;
  /** Where function output goes; `undefined` discards it. */
  log?: (functionId: string, line: string) => void;
  /** Reads the metrics (EMF lines) in function output. */
  metrics?: LocalMetrics;
  /** Environments booted ahead (see RuntimePool): the functions' first environments come from it. */
  runtimes?: RuntimePool;
  /** The local cloud's own directory: inline code is written out here, never into the user's assembly. */
  workDir: string;
  /** The Python that runs Python functions (default: `python3` on PATH). */
  python?: string;
  /** Gives a variable's value its local form (an API's execute-api URL becomes the local one). */
  localize?: (value: string) => string;
}

export interface InvocationRecord {
  at: number;
  ms: number;
  /** "ok", or the error type ("InjectedFault", "Sandbox.Timedout", "Runtime.ExitError", ...). */
  outcome: string;
}

const RECENT_INVOCATIONS = 20;
const RECENT_LOG_LINES = 40;

/** What a local function runs and how: its bundle, handler, environment and limits. */
interface LocalFunctionConfig {
  codeDir: string;
  handler: string;
  /** The template's runtime (nodejs24.x, ...). */
  runtime: string;
  /** --inspect: its one environment listens for a debugger on this port, and no timeout cuts it. */
  inspectPort?: number;
  env: Record<string, string>;
  timeoutMs: number;
  memoryMb: number;
  concurrency: number;
  log?: (functionId: string, line: string) => void;
  metrics?: LocalMetrics;
  runtimes?: RuntimePool;
  python?: string;
}

/** A worker thread running an execution environment (runtime/worker.mjs). */
function startEnvironment(env: Record<string, string>, workerData: Record<string, unknown>): Worker {
  return new Worker(WORKER_SCRIPT, {
    // A Lambda environment runs plain Node.js: none of this process's flags, in particular no TypeScript
    // loader such as tsx's (inherited, it hooks every import of the bundle and triples a cold start),
    // nor a test runner's --conditions.
    execArgv: [],
    env,
    stdout: true,
    stderr: true,
    // This process's compile cache, when it has one (the environments share it); else Node's default.
    workerData: { ...workerData, compileCacheDir: getCompileCacheDir() },
  });
}

/**
 * Execution environments booted ahead of their functions, while the engines start: a worker thread that
 * has loaded the SDK packages its function's bundle imports (Lambda's runtime provides them, so loading
 * them is the runtime's start, not the function's), waiting to be given its function. The function's
 * init, its module, still runs only when the function takes the environment, with its environment
 * variables set: after the stack's resources exist, as on Lambda.
 */
export class RuntimePool {
  private readonly spares = new Map<string, Worker[]>();
  private stopped = false;

  /** Boots one environment for each Node.js function with a bundled asset in the template. */
  bootFor(template: { Resources?: Record<string, CfnResource> }, assemblyDir: string): void {
    for (const resource of Object.values(template.Resources ?? {})) {
      if (resource.Type !== "AWS::Lambda::Function") continue;
      const props = resource.Properties ?? {};
      const assetPath = resource.Metadata?.["aws:asset:path"];
      if (!String(props.Runtime ?? "").startsWith("nodejs") || typeof assetPath !== "string") continue;
      this.boot(
        join(assemblyDir, assetPath),
        typeof props.Handler === "string" ? props.Handler : "index.handler",
      );
    }
  }

  boot(codeDir: string, handler: string): void {
    if (this.stopped) return;
    const worker = startEnvironment({}, { boot: { codeDir, handler } });
    const key = `${codeDir}\0${handler}`;
    const spares = this.spares.get(key) ?? [];
    spares.push(worker);
    this.spares.set(key, spares);
    // A spare that fails is dropped; its function starts an environment of its own instead.
    const drop = () => {
      const index = spares.indexOf(worker);
      if (index >= 0) spares.splice(index, 1);
    };
    worker.on("error", drop);
    worker.on("exit", drop);
  }

  /** How many booted environments wait for their function. */
  get waiting(): number {
    return [...this.spares.values()].reduce((sum, spares) => sum + spares.length, 0);
  }

  /** A booted environment for this bundle and handler, if there is one. */
  take(codeDir: string, handler: string): Worker | undefined {
    const worker = this.spares.get(`${codeDir}\0${handler}`)?.shift();
    worker?.removeAllListeners("error").removeAllListeners("exit");
    return worker;
  }

  /** Ends the environments no function took; later environments start on their own. */
  async stop(): Promise<void> {
    this.stopped = true;
    const spares = [...this.spares.values()].flat();
    this.spares.clear();
    await Promise.all(spares.map((worker) => worker.terminate()));
  }
}

export class LocalFunction {
  private readonly environments: Environment[] = [];
  private readonly waiting: Array<() => void> = [];
  private readonly inFlight = new Map<string, Pending>();
  /** Environments still loading their module: called once the module is loaded (or failed to). */
  private readonly initialized = new Map<ExecutionEnvironment, (ok: boolean) => void>();
  private fault: FaultMode = "none";
  private readonly totals = { invocations: 0, durationMs: 0 };
  private faultDelay: FaultDelay = { delayMs: 0, jitterMs: 0 };
  private stopped = false;
  /** The function's last log lines, newest last (the console shows them). */
  private readonly logs: Array<{ at: number; line: string }> = [];
  /** The last invocations, newest last (the console shows them). */
  private readonly recent: InvocationRecord[] = [];

  readonly id: string;
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  private config: LocalFunctionConfig;
  constructor(id: string, logicalId: string, name: string, arn: string, config: LocalFunctionConfig) {
    this.id = id;
    this.logicalId = logicalId;
    this.name = name;
    this.arn = arn;
    this.config = config;
  }

  get timeoutMs(): number {
    return this.config.timeoutMs;
  }

  /** The directory of the code it runs now (its bundle or asset). */
  get codeDir(): string {
    return this.config.codeDir;
  }

  get handler(): string {
    return this.config.handler;
  }

  setFault(mode: FaultMode, delay: FaultDelay = { delayMs: 0, jitterMs: 0 }): void {
    this.fault = mode;
    this.faultDelay = delay;
  }

  getFault(): FaultMode {
    return this.fault;
  }

  /** The `delay` fault's lateness (zero under any other mode). */
  getFaultDelay(): FaultDelay {
    return this.fault === "delay" ? { ...this.faultDelay } : { delayMs: 0, jitterMs: 0 };
  }

  /** What Lambda's GetFunctionConfiguration answers of it (ListFunctions lists these). */
  configuration(): Record<string, unknown> {
    return {
      FunctionName: this.name,
      FunctionArn: this.arn,
      Runtime: this.config.runtime,
      Handler: this.config.handler,
      Timeout: this.config.timeoutMs / 1000,
      MemorySize: this.config.memoryMb,
      Environment: { Variables: this.config.env },
      Version: "$LATEST",
      PackageType: "Zip",
      Architectures: ["x86_64"],
      State: "Active",
      LastUpdateStatus: "Successful",
      CodeSize: 0,
    };
  }

  /** The function's environment variables (what the template gave it, plus the local cloud's). */
  get environmentVariables(): Readonly<Record<string, string>> {
    return this.config.env;
  }

  /** Its execution environments now, and its last invocations with their duration and outcome. */
  activity(): {
    environments: number;
    busy: number;
    recent: InvocationRecord[];
    logs: Array<{ at: number; line: string }>;
  } {
    return {
      environments: this.environments.length,
      busy: this.environments.filter((environment) => environment.busy).length,
      recent: [...this.recent],
      logs: [...this.logs],
    };
  }

  /** As `run`, recording the invocation's duration and outcome. */
  async invoke(event: unknown, signal?: AbortSignal, payload?: string): Promise<InvokeResult> {
    const at = Date.now();
    const result = await this.run(event, signal, payload);
    this.recent.push({
      at,
      ms: Date.now() - at,
      outcome: result.ok ? "ok" : (result.error?.errorType ?? "error"),
    });
    if (this.recent.length > RECENT_INVOCATIONS) this.recent.shift();
    return result;
  }

  /**
   * Runs one invocation; never rejects: handler errors and timeouts come back as `ok: false`. The event
   * travels to the worker as JSON text (`payload` when the caller already has it, as the Lambda API
   * does); an event that cannot be serialized, or whose JSON is over Lambda's 6 MB limit, fails at once
   * without touching an environment.
   */
  private async run(event: unknown, signal?: AbortSignal, payload?: string): Promise<InvokeResult> {
    if (this.fault === "error") {
      return {
        ok: false,
        error: { errorType: "InjectedFault", errorMessage: `fault injected into ${this.id}` },
      };
    }
    if (this.fault === "timeout") {
      await sleep(this.config.timeoutMs, signal);
      return this.timedOut();
    }
    if (this.fault === "delay") {
      // The request is late, not cancelled: it runs even when its caller gave up meanwhile.
      const { delayMs, jitterMs } = this.faultDelay;
      await sleep(delayMs + Math.floor(Math.random() * (jitterMs + 1)));
    }
    const result = await this.execute(event, payload);
    if (this.fault === "lose-reply")
      return {
        ok: false,
        error: { errorType: "InjectedFault", errorMessage: `the reply of ${this.id} was lost (it ran)` },
      };
    return result;
  }

  private async execute(event: unknown, payload?: string): Promise<InvokeResult> {
    let text = payload;
    if (text === undefined) {
      try {
        text = JSON.stringify(event ?? null);
      } catch (error) {
        return {
          ok: false,
          error: {
            errorType: "InvalidRequestContentException",
            errorMessage: `the event cannot be sent: ${error}`,
          },
        };
      }
    }
    if (Buffer.byteLength(text) > MAX_SYNC_PAYLOAD_BYTES)
      return {
        ok: false,
        error: {
          errorType: "RequestEntityTooLargeException",
          errorMessage: `the event is ${Buffer.byteLength(text)} bytes; Lambda takes at most ${MAX_SYNC_PAYLOAD_BYTES}`,
        },
      };
    const environment = await this.acquire();
    const requestId = randomUUID();
    // Billed as Lambda bills: from the environment taking the event until its answer (or its timeout).
    const began = performance.now();
    const deadline = Date.now() + this.config.timeoutMs;
    try {
      return await new Promise<InvokeResult>((resolve) => {
        // Lambda discards an environment whose invocation timed out; so do we (not one being debugged).
        const timer = this.config.inspectPort
          ? undefined
          : setTimeout(() => {
              this.inFlight.delete(requestId);
              this.discard(environment);
              resolve(this.timedOut());
            }, this.config.timeoutMs);
        this.inFlight.set(requestId, {
          resolve: (result) => {
            clearTimeout(timer);
            resolve(result);
          },
        });
        environment.requestId = requestId;
        try {
          environment.worker.postMessage({ requestId, payload: text, deadline });
        } catch (error) {
          // Never leave the timer armed: it would discard this environment under a later invocation.
          clearTimeout(timer);
          this.inFlight.delete(requestId);
          resolve({
            ok: false,
            error: {
              errorType: "InvalidRequestContentException",
              errorMessage: `the event cannot be sent: ${error}`,
            },
          });
        }
      });
    } finally {
      this.totals.invocations++;
      this.totals.durationMs += Math.ceil(performance.now() - began);
      this.release(environment);
    }
  }

  /**
   * What it ran so far, as Lambda would bill it: invocations that reached an environment, and their
   * durations rounded up to the millisecond (at its memory size). Injected `error` and `timeout` faults
   * never reach one and are not counted.
   */
  usage(): { invocations: number; durationMs: number; memoryMb: number } {
    return { ...this.totals, memoryMb: this.config.memoryMb };
  }

  /**
   * Starts execution environments until the function has `count` of them (at most its concurrency), and
   * waits until each has loaded the function's module (its cold start), as provisioned concurrency
   * would; at most Lambda's 10 s limit on a function's init phase (not the function's timeout, which
   * bounds invocations: a 3 s function may take longer to load on a busy machine, and "ready" would come
   * before it is). Answers whether every module loaded in time. Nothing is invoked.
   */
  async prewarm(count = 1): Promise<boolean> {
    const missing = Math.min(count, this.config.concurrency) - this.environments.length;
    if (this.stopped || missing <= 0) return true;
    const loaded = await Promise.all(
      Array.from({ length: missing }, async () => {
        const environment = { worker: this.spawn(), busy: true };
        this.environments.push(environment);
        const ok = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), INIT_TIMEOUT_MS);
          this.initialized.set(environment.worker, (ok) => {
            clearTimeout(timer);
            resolve(ok);
          });
        });
        this.initialized.delete(environment.worker);
        this.release(environment);
        return ok;
      }),
    );
    return loaded.every(Boolean);
  }

  /** How many environments the function may run at once. */
  get concurrency(): number {
    return this.config.concurrency;
  }

  private timedOut(): InvokeResult {
    const seconds = (this.config.timeoutMs / 1000).toFixed(2);
    return {
      ok: false,
      error: { errorType: "Sandbox.Timedout", errorMessage: `Task timed out after ${seconds} seconds` },
    };
  }

  private async acquire(): Promise<Environment> {
    for (;;) {
      if (this.stopped) throw new Error(`function ${this.id} is stopped`);
      const idle = this.environments.find((environment) => !environment.busy);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (this.environments.length < this.config.concurrency) {
        const environment = { worker: this.spawn(), busy: true };
        this.environments.push(environment);
        return environment;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(environment: Environment): void {
    environment.busy = false;
    environment.requestId = undefined;
    if (environment.stale) this.discard(environment);
    this.waiting.shift()?.();
  }

  /**
   * New code for the function (--watch): environments that run nothing are ended now, the others when
   * their invocation is done; the next invocations start environments on the new code. Invocations in
   * flight finish on the code they started with, as during a Lambda deployment.
   */
  replaceCode(codeDir: string, handler: string): void {
    this.config = { ...this.config, codeDir, handler };
    this.replaceEnvironments();
  }

  /**
   * --inspect: one environment, with the inspector listening on `port` (127.0.0.1), so a debugger can
   * attach and breakpoints hold; no timeout ends an invocation paused at one.
   */
  inspect(port: number): void {
    this.config = { ...this.config, inspectPort: port, concurrency: 1 };
    this.replaceEnvironments();
  }

  get inspectPort(): number | undefined {
    return this.config.inspectPort;
  }

  private replaceEnvironments(): void {
    for (const environment of [...this.environments]) {
      environment.stale = true;
      if (!environment.busy) this.discard(environment);
    }
  }

  private discard(environment: Environment): void {
    const index = this.environments.indexOf(environment);
    if (index >= 0) this.environments.splice(index, 1);
    void environment.worker.terminate();
  }

  private spawn(): ExecutionEnvironment {
    const { codeDir, handler, env, memoryMb, log, metrics, runtimes, runtime } = this.config;
    const definition = {
      codeDir,
      handler,
      functionName: this.name,
      functionArn: this.arn,
      memoryMb,
      logGroupName: `/aws/lambda/${this.name}`,
      inspectPort: this.config.inspectPort,
    };
    let worker: ExecutionEnvironment;
    if (runtime.startsWith("nodejs")) {
      // One booted ahead for this bundle (its SDK loaded) is given the function, else a new one starts.
      const booted = runtimes?.take(codeDir, handler);
      booted?.postMessage({ assign: { function: definition, env } });
      worker = booted ?? startEnvironment(env, { function: definition });
    } else {
      worker = new ProcessEnvironment({ ...definition, runtime }, env, this.config.python);
    }
    for (const stream of [worker.stdout, worker.stderr])
      pipeLines(stream, (line) => {
        metrics?.observe(this.id, line);
        log?.(this.id, line);
        this.logs.push({ at: Date.now(), line });
        if (this.logs.length > RECENT_LOG_LINES) this.logs.shift();
      });
    worker.on("message", (message: ({ requestId: string } & InvokeResult) | { initialized: boolean }) => {
      if ("initialized" in message) return this.initialized.get(worker)?.(message.initialized);
      const pending = this.inFlight.get(message.requestId);
      this.inFlight.delete(message.requestId);
      const { requestId: _, ...result } = message;
      pending?.resolve(result as InvokeResult);
    });
    // An uncaught error kills the environment and fails the invocation it was running.
    worker.on("error", (error) => this.failEnvironment(worker, error));
    worker.on("exit", (code) =>
      this.failEnvironment(worker, new Error(`environment exited with code ${code}`)),
    );
    return worker;
  }

  private failEnvironment(worker: ExecutionEnvironment, error: Error): void {
    const environment = this.environments.find((candidate) => candidate.worker === worker);
    if (!environment) return;
    this.environments.splice(this.environments.indexOf(environment), 1);
    const pending = environment.requestId ? this.inFlight.get(environment.requestId) : undefined;
    if (environment.requestId) this.inFlight.delete(environment.requestId);
    pending?.resolve({ ok: false, error: { errorType: "Runtime.ExitError", errorMessage: error.message } });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.environments.map((environment) => environment.worker.terminate()));
    this.environments.length = 0;
    for (const wake of this.waiting.splice(0)) wake();
  }
}

function pipeLines(stream: Readable, onLine: (line: string) => void): void {
  let buffer = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf("\n");
    }
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Builds a LocalFunction for every AWS::Lambda::Function of the template that can run here: Node.js
 * code from a bundled asset or inline code. Any other function is skipped with its reason.
 */
export function createFunctions(
  template: Template,
  assemblyDir: string,
  baseEnv: Record<string, string>,
  options: FunctionOptions,
  skip: (skipped: Skipped) => void = () => {},
): LocalFunction[] {
  const functions: LocalFunction[] = [];
  const declared = template.resourcesOfType("AWS::Lambda::Function").flatMap(([logicalId, resource]) => {
    const props = resource.Properties ?? {};
    const id = template.constructPath(logicalId).replaceAll("/", "-");
    try {
      const name = template.physicalName(logicalId, props.FunctionName);
      const arn = template.arn("lambda", `function:${name}`);
      const codeDir = codeOf(logicalId, resource.Metadata, props, assemblyDir, options.workDir);
      template.setPhysical(logicalId, { ref: name, attributes: { Arn: arn } });
      return [{ logicalId, id, name, arn, props, codeDir }];
    } catch (error) {
      skip({ logicalId, type: resource.Type, reason: (error as Error).message });
      return [];
    }
  });
  // Environments are resolved after every function has a name, so functions may reference each other.
  for (const { logicalId, id, name, arn, props, codeDir } of declared) {
    try {
      const variables = template.resolve(
        (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
      ) as Record<string, unknown>;
      const memoryMb = Number(template.resolve(props.MemorySize) ?? 128);
      const runtime = String(template.resolve(props.Runtime) ?? "");
      const handler = String(template.resolve(props.Handler) ?? "index.handler");
      // A runtime that needs what this machine lacks (a python3, an asset's bootstrap) is skipped now.
      if (!runtime.startsWith("nodejs")) {
        bootstrapCommand(runtime, codeDir, options.python ?? "python3");
        if (runtime.startsWith("python")) pythonInfo(options.python ?? "python3");
      }
      const env: Record<string, string> = {
        ...baseEnv,
        ...Object.fromEntries(
          Object.entries(variables).map(([key, value]) => [key, (options.localize ?? String)(String(value))]),
        ),
        AWS_LAMBDA_FUNCTION_NAME: name,
        AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
      };
      // NODE_OPTIONS is process-wide; a worker thread cannot take it, so it is not passed on.
      delete env.NODE_OPTIONS;
      const reserved = template.resolve(props.ReservedConcurrentExecutions);
      functions.push(
        new LocalFunction(id, logicalId, name, arn, {
          codeDir,
          handler,
          runtime,
          env,
          timeoutMs: Number(template.resolve(props.Timeout) ?? 3) * 1000,
          memoryMb,
          // Reserved concurrency is a ceiling on AWS; here the machine's own ceiling applies too.
          concurrency: Math.max(
            1,
            Math.min(Number(reserved ?? Number.POSITIVE_INFINITY), options.defaultConcurrency),
          ),
          log: options.log,
          metrics: options.metrics,
          runtimes: options.runtimes,
          python: options.python,
        }),
      );
    } catch (error) {
      skip({ logicalId, type: "AWS::Lambda::Function", reason: (error as Error).message });
    }
  }
  return functions;
}

const pythons = new Map<string, { version: string; boto3: boolean }>();

/**
 * This Python's version (`3.11`) and whether it can import boto3 (Lambda's Python runtimes provide it),
 * asked once; throws when there is no such executable.
 */
export function pythonInfo(python: string): { version: string; boto3: boolean } {
  let info = pythons.get(python);
  if (info === undefined) {
    let text: string;
    try {
      text = execFileSync(
        python,
        [
          "-c",
          "import sys, importlib.util; print('%d.%d' % sys.version_info[:2], importlib.util.find_spec('boto3') is not None)",
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
      );
    } catch {
      throw new Error(`Python functions run on ${python}, which this machine does not have`);
    }
    const [version = "", boto3] = text.trim().split(" ");
    info = { version, boto3: boto3 === "True" };
    pythons.set(python, info);
  }
  return info;
}

/** The directory of a function's code: its bundled asset, or its inline code written out as index.js. */
export function codeOf(
  logicalId: string,
  metadata: Record<string, unknown> | undefined,
  props: Record<string, unknown>,
  assemblyDir: string,
  workDir: string,
): string {
  const runtime = String(props.Runtime ?? "");
  const python = /^python3\.\d+$/.test(runtime);
  if (!runtime.startsWith("nodejs") && !python && !/^provided(\.al2|\.al2023)?$/.test(runtime))
    throw new Error(
      `runtime ${runtime || "(container image)"} does not run locally (Node.js, Python 3 and provided runtimes do)`,
    );
  const inline = (props.Code as { ZipFile?: unknown } | undefined)?.ZipFile;
  if (typeof inline === "string") {
    if (!runtime.startsWith("nodejs") && !python)
      throw new Error(`runtime ${runtime} takes no inline code (Lambda neither)`);
    // Lambda saves inline code as index.js or index.py. One directory per assembly, so that clouds of
    // other assemblies sharing the work directory do not overwrite each other's code.
    const assembly = createHash("sha256").update(resolve(assemblyDir)).digest("hex").slice(0, 12);
    const dir = join(workDir, "inline-code", assembly, logicalId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, python ? "index.py" : "index.js"), inline);
    // On Lambda it is CommonJS (no package.json beside it); here a package.json above the work
    // directory must not make it a module.
    if (!python) writeFileSync(join(dir, "package.json"), '{ "type": "commonjs" }\n');
    return dir;
  }
  const assetPath = metadata?.["aws:asset:path"];
  if (typeof assetPath !== "string")
    throw new Error(
      "no code to run: neither inline code nor a bundled asset (aws:asset:path) in the assembly",
    );
  return join(assemblyDir, assetPath);
}
