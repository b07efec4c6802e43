/**
 * The Lambda Invoke API (the subset `@aws-sdk/client-lambda` uses to invoke) plus the local cloud's
 * fault-injection routes:
 *   POST /2015-03-31/functions/{name}/invocations   RequestResponse, Event or DryRun
 *   GET  /2015-03-31/functions/                     ListFunctions
 *   GET  /2015-03-31/functions/{name}[/configuration]   GetFunction (GetFunctionConfiguration)
 *   GET  /_local/functions                          the function ids
 *   GET  /_local/metrics                            the functions' metrics (EMF), summed
 *   PUT  /_local/faults/{functionId}                {"mode":"error"|"timeout"|"lose-reply"|"none"}
 *                                                   or {"mode":"delay","delayMs":n,"jitterMs"?:n}
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AsyncInvokeOptions, invokeAsync } from "./async-invoke.ts";
import { byConstructPath } from "./construct-ids.ts";
import { type FaultDelay, type FaultMode, type LocalFunction, MAX_SYNC_PAYLOAD_BYTES } from "./functions.ts";
import { serveGracefully } from "./http-server.ts";
import type { LocalMetrics } from "./metrics.ts";

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const FAULT_PATH = /^\/_local\/faults\/([^/]+)$/;
/** ListFunctions, and GetFunction / GetFunctionConfiguration. */
const LIST_PATH = /^\/2015-03-31\/functions\/?$/;
const FUNCTION_PATH = /^\/2015-03-31\/functions\/([^/]+)(\/configuration)?$/;

const FAULT_MODES: readonly FaultMode[] = ["none", "error", "timeout", "delay", "lose-reply"];
/** The longest injectable delay: Lambda's longest function timeout. */
const MAX_FAULT_DELAY_MS = 900_000;

/** A fault request's body, or what is wrong with it. */
function parseFault(text: string): { mode: FaultMode; delay?: FaultDelay } | string {
  let body: { mode?: unknown; delayMs?: unknown; jitterMs?: unknown };
  try {
    body = JSON.parse(text || "{}");
  } catch {
    return "the body is not JSON";
  }
  const { mode, delayMs, jitterMs = 0 } = body ?? {};
  if (!FAULT_MODES.includes(mode as FaultMode)) return `mode must be one of ${FAULT_MODES.join(", ")}`;
  if (mode !== "delay") {
    if (delayMs !== undefined || body.jitterMs !== undefined)
      return "delayMs and jitterMs go only with mode delay";
    return { mode: mode as FaultMode };
  }
  const valid = (n: unknown) =>
    Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_FAULT_DELAY_MS;
  if (!valid(delayMs) || !valid(jitterMs))
    return `delayMs (required) and jitterMs are whole milliseconds from 0 to ${MAX_FAULT_DELAY_MS}`;
  return { mode: "delay", delay: { delayMs: delayMs as number, jitterMs: jitterMs as number } };
}

export class FunctionRegistry {
  readonly functions: LocalFunction[];

  constructor(functions: LocalFunction[]) {
    this.functions = functions;
  }

  /**
   * Finds a function by its name, its ARN (optionally with a qualifier) or its construct id (the path
   * below the stack with "-", or a tail of it no other function shares: "Replica3" for
   * "Coordination-Replica3").
   */
  find(nameOrArn: string): LocalFunction | undefined {
    const name = nameOrArn.startsWith("arn:") ? (nameOrArn.split(":")[6] ?? "") : nameOrArn.split(":")[0]!;
    return (
      this.functions.find((fn) => fn.name === name || fn.arn === nameOrArn) ??
      byConstructPath(this.functions, (fn) => fn.id, name, "-")
    );
  }

  /** Finds a function by an integration target or an event source mapping's FunctionName. */
  require(nameOrArn: string): LocalFunction {
    const fn = this.find(nameOrArn);
    if (!fn) throw new Error(`unknown function ${nameOrArn}`);
    return fn;
  }
}

export class PayloadTooLarge extends Error {
  readonly limit: number;

  constructor(limit: number) {
    super(`the request body is over ${limit} bytes`);
    this.limit = limit;
    this.name = "PayloadTooLarge";
  }
}

/**
 * The request body, refused with PayloadTooLarge as soon as it is known to be over `limit` (by its
 * Content-Length before anything is read, or while it streams in): nothing over the limit is buffered.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(request.headers["content-length"] ?? 0) > limit) {
    request.pause();
    return Promise.reject(new PayloadTooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop reading (the stream stays open, so the 413 can still be written back).
        request.off("data", onData);
        request.pause();
        reject(new PayloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    request.on("data", onData);
    request.once("end", () => resolve(Buffer.concat(chunks)));
    request.once("error", reject);
  });
}

/**
 * Answers 413: the rest of an oversized upload is discarded as it arrives (never buffered) until the
 * client, having read the answer, stops, or five seconds have passed.
 */
export function refuseTooLarge(
  response: ServerResponse,
  body: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(413, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
  // Closing at once would reset the connection under the client's upload, and the client might never
  // read the answer: keep reading and dropping what comes, and close after a few seconds at most.
  response.req.resume();
  setTimeout(() => response.socket?.destroy(), 5000).unref();
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(text);
}

export function startLambdaApi(
  registry: FunctionRegistry,
  port: number,
  host = "127.0.0.1",
  metrics?: LocalMetrics,
  log: (line: string) => void = () => {},
  deadLetterOf: (fn: LocalFunction) => AsyncInvokeOptions["deadLetter"] = () => undefined,
): Promise<Server> {
  const server = createServer(async (request, response) => {
    try {
      await handle(registry, request, response, metrics, log, deadLetterOf);
    } catch (error) {
      send(
        response,
        500,
        { Type: "Service", message: String(error) },
        { "x-amzn-errortype": "ServiceException" },
      );
    }
  });
  serveGracefully(server);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function handle(
  registry: FunctionRegistry,
  request: IncomingMessage,
  response: ServerResponse,
  metrics?: LocalMetrics,
  log: (line: string) => void = () => {},
  deadLetterOf: (fn: LocalFunction) => AsyncInvokeOptions["deadLetter"] = () => undefined,
) {
  const url = new URL(request.url ?? "/", "http://localhost");
  let body: Buffer;
  try {
    body = await readBody(request, MAX_SYNC_PAYLOAD_BYTES);
  } catch (error) {
    if (!(error instanceof PayloadTooLarge)) throw error;
    return refuseTooLarge(
      response,
      {
        Type: "User",
        message: `Request must be smaller than ${MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation`,
      },
      { "x-amzn-errortype": "RequestEntityTooLargeException" },
    );
  }

  if (request.method === "GET" && url.pathname === "/_local/metrics") {
    return send(response, 200, { metrics: metrics?.snapshot() ?? [] });
  }

  if (request.method === "GET" && url.pathname === "/_local/functions") {
    return send(response, 200, {
      functions: registry.functions.map((fn) => ({
        id: fn.id,
        name: fn.name,
        arn: fn.arn,
        fault: fn.getFault(),
        ...(fn.getFault() === "delay" ? fn.getFaultDelay() : {}),
      })),
    });
  }

  const fault = FAULT_PATH.exec(url.pathname);
  if (fault && request.method === "PUT") {
    const fn = registry.find(decodeURIComponent(fault[1]!));
    if (!fn)
      return send(response, 404, { error: { code: "UnknownFunction", message: `no function ${fault[1]}` } });
    const parsed = parseFault(body.toString("utf8"));
    if (typeof parsed === "string")
      return send(response, 400, { error: { code: "InvalidFault", message: parsed } });
    fn.setFault(parsed.mode, parsed.delay);
    return send(response, 200, { id: fn.id, mode: parsed.mode, ...(parsed.delay ?? {}) });
  }

  if (request.method === "GET" && LIST_PATH.test(url.pathname))
    return send(response, 200, { Functions: registry.functions.map((fn) => fn.configuration()) });
  const described = FUNCTION_PATH.exec(url.pathname);
  if (described && request.method === "GET") {
    const target = decodeURIComponent(described[1]!);
    const fn = registry.find(target);
    if (!fn)
      return send(
        response,
        404,
        { Type: "User", message: `Function not found: ${target}` },
        { "x-amzn-errortype": "ResourceNotFoundException" },
      );
    return send(
      response,
      200,
      described[2]
        ? fn.configuration()
        : { Configuration: fn.configuration(), Code: { RepositoryType: "S3" } },
    );
  }

  const invoke = INVOKE_PATH.exec(url.pathname);
  if (invoke && request.method === "POST") {
    const target = decodeURIComponent(invoke[1]!);
    const fn = registry.find(target);
    if (!fn) {
      return send(
        response,
        404,
        { Type: "User", message: `Function not found: ${target}` },
        { "x-amzn-errortype": "ResourceNotFoundException" },
      );
    }
    let event: unknown;
    try {
      event = body.length ? JSON.parse(body.toString("utf8")) : {};
    } catch {
      return send(
        response,
        400,
        { Type: "User", message: "Could not parse request body into json" },
        { "x-amzn-errortype": "InvalidRequestContentException" },
      );
    }
    const type = request.headers["x-amz-invocation-type"] ?? "RequestResponse";
    if (type === "DryRun") return send(response, 204, "");
    if (type === "Event") {
      // Nobody waits for the answer: retried as Lambda retries, a failure is seen in the log (as in
      // CloudWatch) and in the function's dead-letter queue.
      void invokeAsync(
        fn,
        event,
        { log, what: "event invoke", deadLetter: deadLetterOf(fn) },
        body.length ? body.toString("utf8") : "{}",
      );
      return send(response, 202, "");
    }
    // A caller that gives up (a proxy's per-call timeout) should not keep a faulted "hang" alive.
    const abort = new AbortController();
    response.on("close", () => abort.abort());
    const result = await fn.invoke(event, abort.signal, body.length ? body.toString("utf8") : "{}");
    if (result.ok)
      return send(response, 200, JSON.stringify(result.payload), { "x-amz-executed-version": "$LATEST" });
    // Refused before the function ran: the service's own error, as Lambda answers it.
    const refused = { RequestEntityTooLargeException: 413, InvalidRequestContentException: 400 }[
      result.error.errorType
    ];
    if (refused)
      return send(
        response,
        refused,
        { Type: "User", message: result.error.errorMessage },
        { "x-amzn-errortype": result.error.errorType },
      );
    return send(response, 200, result.error, {
      "x-amz-function-error": "Unhandled",
      "x-amz-executed-version": "$LATEST",
    });
  }

  send(
    response,
    404,
    { Type: "User", message: `unknown route ${request.method} ${url.pathname}` },
    {
      "x-amzn-errortype": "ResourceNotFoundException",
    },
  );
}
