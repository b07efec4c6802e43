/**
 * Billable requests counted at the engines, not from our code's view of itself: a proxy in front of
 * DynamoDB Local and one in front of the SQS endpoint, through which every client (the functions, the
 * local cloud's pollers, a bench's own SDK clients) reaches them.
 *
 * DynamoDB: each request is asked for its consumed capacity (ReturnConsumedCapacity TOTAL, added when
 * the caller did not ask; the answer is then given back without it), and the engine's own figure is
 * counted: write units by item size (1 KB steps, the larger of the item before and after), read units
 * by 4 KB (half for eventually consistent reads), transactions at twice the units, as DynamoDB bills
 * on-demand tables (a write transaction is counted here from its items, since DynamoDB Local's figure
 * for it is wrong: see `transaction`). DynamoDB Local reports nothing for a write whose condition failed, which AWS bills
 * too: counted as one write unit (items here are under 1 KB), and a cancelled transaction as two per
 * item. DynamoDB Streams reads are counted apart (free when Lambda reads them).
 *
 * SQS: every request is billable, one per 64 KiB chunk of its payload, FIFO queues at the FIFO price;
 * receives that return nothing are counted apart (idle pollers cost per hour, not per operation).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface DynamoDBUsage {
  readUnits: number;
  writeUnits: number;
  requests: number;
  streamReads: number;
  byOperation: Record<string, number>;
}

export interface SqsUsage {
  /** Billable requests (64 KiB chunks) on standard queues, and on FIFO queues. */
  standard: number;
  fifo: number;
  emptyReceives: number;
  byAction: Record<string, number>;
}

const READS = new Set(["GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"]);
const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);

type Handler = (request: IncomingMessage, body: Buffer, response: ServerResponse) => Promise<void>;

async function proxy(handler: Handler): Promise<{ server: Server; endpoint: string }> {
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    try {
      await handler(request, Buffer.concat(chunks), response);
    } catch (error) {
      response.writeHead(502, { "content-type": "application/json" });
      response.end(JSON.stringify({ __type: "MeterError", message: String(error) }));
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Passes a request on to `target` and answers with what came back (headers filtered by `keep`). */
async function forward(
  target: string,
  request: Pick<IncomingMessage, "url" | "method" | "headers">,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string>; text: string }> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers))
    if (value !== undefined && !["host", "content-length", "connection"].includes(name))
      headers[name] = Array.isArray(value) ? value.join(", ") : value;
  const answer = await fetch(new URL(request.url ?? "/", target), {
    method: request.method,
    headers,
    body: request.method === "GET" || request.method === "HEAD" ? undefined : body,
  });
  const out: Record<string, string> = {};
  answer.headers.forEach((value, name) => {
    if (!["content-length", "transfer-encoding", "connection", "content-encoding"].includes(name))
      out[name] = value;
  });
  return { status: answer.status, headers: out, text: await answer.text() };
}

const units = (consumed: unknown): number =>
  (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce(
    (sum: number, entry: { CapacityUnits?: number }) => sum + (entry.CapacityUnits ?? 0),
    0,
  );

/** A DynamoDB attribute value's size in bytes, as DynamoDB counts it (close enough for billing). */
function valueSize(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  const [[type, inner] = ["", undefined]] = Object.entries(value as Record<string, unknown>);
  switch (type) {
    case "S":
    case "B":
      return Buffer.byteLength(String(inner));
    case "N":
      return Math.ceil(String(inner).length / 2) + 1;
    case "BOOL":
    case "NULL":
      return 1;
    case "L":
      return 3 + (inner as unknown[]).reduce((sum: number, item) => sum + 1 + valueSize(item), 0);
    case "M":
      return 3 + itemSize(inner as Record<string, unknown>);
    default:
      return Buffer.byteLength(JSON.stringify(inner ?? ""));
  }
}
const itemSize = (item: Record<string, unknown>) =>
  Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value), 0);

type TransactAction = Record<
  string,
  { TableName: string; Key?: Record<string, unknown>; Item?: Record<string, unknown> } | undefined
>;

const kilobytes = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

export class DynamoDBMeter {
  private usage: DynamoDBUsage = {
    readUnits: 0,
    writeUnits: 0,
    requests: 0,
    streamReads: 0,
    byOperation: {},
  };
  readonly endpoint: string;
  private readonly server: Server;
  private readonly keys = new Map<string, Promise<string[]>>();

  private constructor(server: Server, endpoint: string) {
    this.server = server;
    this.endpoint = endpoint;
  }

  /** A request of our own to the engine, in the caller's account (its headers), not counted. */
  private async aside(target: string, request: IncomingMessage, operation: string, input: unknown) {
    const headers = { ...request.headers, "x-amz-target": `DynamoDB_20120810.${operation}` };
    const answer = await forward(
      target,
      { url: request.url, method: request.method, headers },
      Buffer.from(JSON.stringify(input)),
    );
    return JSON.parse(answer.text || "{}") as Record<string, unknown>;
  }

  /** The size in bytes of the item a transaction's action names, as it is now (0 when there is none). */
  private async sizeNow(
    target: string,
    request: IncomingMessage,
    action: { TableName: string; Key?: Record<string, unknown>; Item?: Record<string, unknown> },
  ) {
    let key = action.Key;
    if (!key && action.Item) {
      let names = this.keys.get(action.TableName);
      if (!names) {
        names = this.aside(target, request, "DescribeTable", { TableName: action.TableName }).then((answer) =>
          (
            (answer.Table as { KeySchema?: Array<{ AttributeName: string }> } | undefined)?.KeySchema ?? []
          ).map((element) => element.AttributeName),
        );
        this.keys.set(action.TableName, names);
      }
      key = Object.fromEntries((await names).map((name) => [name, action.Item![name]]));
    }
    const answer = await this.aside(target, request, "GetItem", {
      TableName: action.TableName,
      Key: key,
      ConsistentRead: true,
    });
    return answer.Item ? itemSize(answer.Item as Record<string, unknown>) : 0;
  }

  /**
   * A write transaction's units, as DynamoDB bills them: two per KB of each action's item, the larger of
   * the item before and after it (a Put's item is in its request; an Update's, a Delete's and a
   * ConditionCheck's is read from the engine, before and after). DynamoDB Local's own figure is wrong for
   * any write transaction: over one table it gives four units per KB of its largest item whatever the
   * number of items, over several each table's entry is off by a factor that depends on the others.
   */
  private async transaction(target: string, request: IncomingMessage, body: Buffer) {
    const actions = (JSON.parse(body.toString("utf8")).TransactItems ?? []) as TransactAction[];
    const named = actions.map((action) => Object.entries(action)[0]!);
    const before = await Promise.all(named.map(([, action]) => this.sizeNow(target, request, action!)));
    const forwarded = await forward(target, request, body);
    const after = await Promise.all(
      named.map(([kind, action]) =>
        kind === "Put"
          ? itemSize(action!.Item ?? {})
          : kind === "Update" && forwarded.status === 200
            ? this.sizeNow(target, request, action!)
            : 0,
      ),
    );
    const consumed = before.reduce(
      (sum, size, index) => sum + 2 * kilobytes(Math.max(size, after[index]!)),
      0,
    );
    return { forwarded, consumed };
  }

  static async start(target: string): Promise<DynamoDBMeter> {
    let meter: DynamoDBMeter | undefined;
    const { server, endpoint } = await proxy((request, body, response) =>
      meter!.handle(target, request, body, response),
    );
    meter = new DynamoDBMeter(server, endpoint);
    return meter;
  }

  private async handle(target: string, request: IncomingMessage, body: Buffer, response: ServerResponse) {
    const amzTarget = String(request.headers["x-amz-target"] ?? "");
    const operation = amzTarget.split(".")[1] ?? "";
    if (amzTarget.startsWith("DynamoDBStreams_")) {
      if (operation === "GetRecords") this.usage.streamReads++;
      const answer = await forward(target, request, body);
      response.writeHead(answer.status, answer.headers).end(answer.text);
      return;
    }
    const metered = READS.has(operation) || WRITES.has(operation);
    let sent = body;
    let asked = true;
    if (metered) {
      const parsed = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      asked = parsed.ReturnConsumedCapacity !== undefined && parsed.ReturnConsumedCapacity !== "NONE";
      if (!asked) sent = Buffer.from(JSON.stringify({ ...parsed, ReturnConsumedCapacity: "TOTAL" }));
    }
    const transaction =
      operation === "TransactWriteItems" ? await this.transaction(target, request, sent) : undefined;
    const answer = transaction?.forwarded ?? (await forward(target, request, sent));
    let text = answer.text;
    if (metered) {
      this.usage.requests++;
      this.usage.byOperation[operation] = (this.usage.byOperation[operation] ?? 0) + 1;
      const parsed = JSON.parse(text || "{}") as Record<string, unknown>;
      let consumed = transaction?.consumed ?? units(parsed.ConsumedCapacity);
      if (answer.status === 400) {
        const type = String(parsed.__type ?? "");
        if (type.endsWith("ConditionalCheckFailedException")) consumed = 1;
        if (type.endsWith("TransactionCanceledException")) {
          const items =
            (JSON.parse(body.toString("utf8")).TransactItems as unknown[] | undefined)?.length ?? 1;
          consumed = 2 * items;
        }
      }
      if (READS.has(operation)) this.usage.readUnits += consumed;
      else this.usage.writeUnits += consumed;
      if (!asked && "ConsumedCapacity" in parsed) {
        delete parsed.ConsumedCapacity;
        text = JSON.stringify(parsed);
      }
      // The body changed: its checksum no longer holds (the SDK checks it only when it is there).
      delete answer.headers["x-amz-crc32"];
    }
    response.writeHead(answer.status, answer.headers).end(text);
  }

  /** The usage so far (a copy). */
  snapshot(): DynamoDBUsage {
    return structuredClone(this.usage);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export class SqsMeter {
  private usage: SqsUsage = { standard: 0, fifo: 0, emptyReceives: 0, byAction: {} };
  readonly endpoint: string;
  private readonly server: Server;

  private constructor(server: Server, endpoint: string) {
    this.server = server;
    this.endpoint = endpoint;
  }

  static async start(target: string): Promise<SqsMeter> {
    let meter: SqsMeter | undefined;
    const { server, endpoint } = await proxy((request, body, response) =>
      meter!.handle(target, request, body, response),
    );
    meter = new SqsMeter(server, endpoint);
    return meter;
  }

  private async handle(target: string, request: IncomingMessage, body: Buffer, response: ServerResponse) {
    const amzTarget = String(request.headers["x-amz-target"] ?? "");
    const answer = await forward(target, request, body);
    response.writeHead(answer.status, answer.headers).end(answer.text);
    // The JSON protocol (every SDK v3 client here); the query protocol's clients are not metered.
    if (!amzTarget.startsWith("AmazonSQS.") || answer.status >= 500) return;
    const action = amzTarget.slice("AmazonSQS.".length);
    const parsed = JSON.parse(body.toString("utf8") || "{}") as { QueueUrl?: string };
    if (action === "ReceiveMessage") {
      const received = (JSON.parse(answer.text || "{}") as { Messages?: unknown[] }).Messages ?? [];
      if (received.length === 0) {
        this.usage.emptyReceives++;
        return;
      }
    }
    // One request per 64 KiB chunk of the payload (the request's, or a receive's answer).
    const payload = action === "ReceiveMessage" ? Buffer.byteLength(answer.text) : body.length;
    const chunks = Math.max(1, Math.ceil(payload / (64 * 1024)));
    if (String(parsed.QueueUrl ?? "").endsWith(".fifo")) this.usage.fifo += chunks;
    else this.usage.standard += chunks;
    this.usage.byAction[action] = (this.usage.byAction[action] ?? 0) + chunks;
  }

  snapshot(): SqsUsage {
    return structuredClone(this.usage);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
