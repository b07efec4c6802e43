/**
 * The Lambda Invoke API (the subset `@aws-sdk/client-lambda` uses to invoke) plus the local cloud's
 * fault-injection routes:
 *   POST /2015-03-31/functions/{name}/invocations   RequestResponse, Event or DryRun
 *   GET  /_local/functions                          the function ids
 *   PUT  /_local/faults/{functionId}                {"mode":"error"|"timeout"|"none"}
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { FaultMode, LocalFunction } from "./functions.ts";

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const FAULT_PATH = /^\/_local\/faults\/([^/]+)$/;

export class FunctionRegistry {
  constructor(readonly functions: LocalFunction[]) {}

  /** Finds a function by its construct id, its name or its ARN (optionally with a qualifier). */
  find(nameOrArn: string): LocalFunction | undefined {
    const name = nameOrArn.startsWith("arn:") ? (nameOrArn.split(":")[6] ?? "") : nameOrArn.split(":")[0];
    return this.functions.find((fn) => fn.name === name || fn.id === name || fn.arn === nameOrArn);
  }

  /** Finds a function by an integration target or an event source mapping's FunctionName. */
  require(nameOrArn: string): LocalFunction {
    const fn = this.find(nameOrArn);
    if (!fn) throw new Error(`unknown function ${nameOrArn}`);
    return fn;
  }
}

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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
): Promise<Server> {
  const server = createServer(async (request, response) => {
    try {
      await handle(registry, request, response);
    } catch (error) {
      send(
        response,
        500,
        { Type: "Service", message: String(error) },
        { "x-amzn-errortype": "ServiceException" },
      );
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function handle(registry: FunctionRegistry, request: IncomingMessage, response: ServerResponse) {
  const url = new URL(request.url ?? "/", "http://localhost");
  const body = await readBody(request);

  if (request.method === "GET" && url.pathname === "/_local/functions") {
    return send(response, 200, {
      functions: registry.functions.map((fn) => ({
        id: fn.id,
        name: fn.name,
        arn: fn.arn,
        fault: fn.getFault(),
      })),
    });
  }

  const fault = FAULT_PATH.exec(url.pathname);
  if (fault && request.method === "PUT") {
    const fn = registry.find(decodeURIComponent(fault[1]!));
    if (!fn)
      return send(response, 404, { error: { code: "UnknownFunction", message: `no function ${fault[1]}` } });
    let mode: unknown;
    try {
      mode = (JSON.parse(body.toString("utf8") || "{}") as { mode?: unknown }).mode;
    } catch {
      mode = undefined;
    }
    if (mode !== "error" && mode !== "timeout" && mode !== "none") {
      return send(response, 400, {
        error: { code: "InvalidFault", message: 'mode must be "error", "timeout" or "none"' },
      });
    }
    fn.setFault(mode as FaultMode);
    return send(response, 200, { id: fn.id, mode });
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
      void fn.invoke(event);
      return send(response, 202, "");
    }
    // A caller that gives up (a proxy's per-call timeout) should not keep a faulted "hang" alive.
    const abort = new AbortController();
    response.on("close", () => abort.abort());
    const result = await fn.invoke(event, abort.signal);
    if (result.ok)
      return send(response, 200, JSON.stringify(result.payload), { "x-amz-executed-version": "$LATEST" });
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
