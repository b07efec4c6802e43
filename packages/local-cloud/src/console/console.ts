/**
 * The console: a live page of the local cloud (http://127.0.0.1:3000/_console, local only; a deployed
 * stack has nothing like it). The page (page.html, console.js: plain modules, no build step) polls
 * `GET /_console/api/state` and draws what every app has:
 *
 * - functions: environments, recent invocations (duration, outcome), their last log lines, and a fault
 *   toggle each;
 * - tables, with a page of items of the one picked;
 * - queues: depth (waiting, in flight, delayed) and a peek at the messages of the one picked (the
 *   emulator's read-only inspection: nothing is received, so no receive count moves);
 * - the HTTP API's recent requests with their status.
 *
 * An app adds its own panels as plug-ins (ConsolePlugin): a module whose default export takes the
 * console's context and answers the plug-in's state; its browser module draws it. This project's stack
 * registers its Paxos, outbox, lease and mesh panels that way (infra/console/plugin.ts, named in
 * cdk.json under `localCloud:consolePlugins`). The only writes are fault toggles (and whatever a plug-in
 * writes).
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { FaultMode, LocalFunction } from "../functions.ts";
import type { RequestRecord } from "../http-api.ts";
import type { LocalQueue, LocalTable } from "../resources.ts";

export const CONSOLE_PREFIX = "/_console";
const ASSETS = {
  "": { file: new URL("./page.html", import.meta.url), type: "text/html; charset=utf-8" },
  "/console.js": { file: new URL("./browser.js", import.meta.url), type: "text/javascript; charset=utf-8" },
} as const;
const RECENT_REQUESTS = 50;
/** At most this many keys are listed per panel (the page stays fast with thousands in the tables). */
const KEY_LIST_LIMIT = 200;
/** Items of a table, and messages of a queue, shown at once. */
const PAGE = 25;

/** Reads of the local tables, for the console and its plug-ins. */
export class TableReader {
  readonly documents: DynamoDBDocumentClient;

  constructor(dynamodb: DynamoDBClient) {
    this.documents = DynamoDBDocumentClient.from(dynamodb);
  }

  async get(table: string, key: Record<string, unknown>) {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: table, Key: key, ConsistentRead: true }),
    );
    return Item;
  }

  async scan<T>(table: string, limit = 2_000): Promise<T[]> {
    const items: T[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      items.push(...((page.Items ?? []) as T[]));
      start = page.LastEvaluatedKey;
    } while (start && items.length < limit);
    return items;
  }

  /** The keys of items whose pk starts with `prefix` (without it), at most KEY_LIST_LIMIT, sorted. */
  async keysWithPrefix(table: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new ScanCommand({
          TableName: table,
          ProjectionExpression: "pk",
          FilterExpression: "begins_with(pk, :prefix)",
          ExpressionAttributeValues: { ":prefix": prefix },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) keys.push(String(item.pk).slice(prefix.length));
      start = page.LastEvaluatedKey;
    } while (start && keys.length < KEY_LIST_LIMIT);
    return keys.sort().slice(0, KEY_LIST_LIMIT);
  }

  /** The items of a table, or (with `key`) its items whose `key` attribute is `key` (outbox records). */
  async count(table: string, key?: string): Promise<number> {
    const filter =
      key === undefined
        ? {}
        : {
            FilterExpression: "#key = :key",
            ExpressionAttributeNames: { "#key": "key" },
            ExpressionAttributeValues: { ":key": key },
          };
    let total = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new ScanCommand({ TableName: table, Select: "COUNT", ExclusiveStartKey: start, ...filter }),
      );
      total += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return total;
  }
}

/** What a plug-in gets: the stack's functions, tables and queues, and readers of the engines. */
export interface ConsoleContext {
  functions: LocalFunction[];
  tables: LocalTable[];
  queues: LocalQueue[];
  read: TableReader;
  sqs: SQSClient;
}

/** An app's own console panels. */
export interface ConsolePlugin {
  /** Unique among the plug-ins; the browser module is served at /_console/plugins/{id}.js. */
  id: string;
  /**
   * The browser module (a file URL): `export function render(panelId, state, helpers)` answers the HTML
   * of one of its panels, `state` being what `state()` answered.
   */
  script: URL;
  panels: Array<{ id: string; title: string }>;
  /** Inputs it adds to the page's header; their values reach `state()` in the query, by name. */
  inputs?: Array<{ name: string; label: string; placeholder?: string; value?: string; small?: boolean }>;
  state(query: URLSearchParams): Promise<unknown>;
}

export type ConsolePluginFactory = (context: ConsoleContext) => ConsolePlugin;

export class LocalConsole {
  private readonly requests: RequestRecord[] = [];
  private readonly read: TableReader;
  private readonly plugins: ConsolePlugin[];
  private readonly functions: LocalFunction[];
  private readonly tables: LocalTable[];
  private readonly queues: LocalQueue[];
  private readonly sqs: SQSClient;
  private readonly sqsEndpoint: string;

  constructor(
    context: { functions: LocalFunction[]; tables: LocalTable[]; queues: LocalQueue[] },
    dynamodb: DynamoDBClient,
    sqs: SQSClient,
    sqsEndpoint: string,
    plugins: ConsolePluginFactory[] = [],
  ) {
    this.functions = context.functions;
    this.tables = context.tables;
    this.queues = context.queues;
    this.sqs = sqs;
    this.sqsEndpoint = sqsEndpoint;
    this.read = new TableReader(dynamodb);
    this.plugins = plugins.map((create) => create({ ...context, read: this.read, sqs }));
  }

  /** Remembers an answered request of the HTTP API (the newest RECENT_REQUESTS). */
  record(request: RequestRecord): void {
    this.requests.push(request);
    if (this.requests.length > RECENT_REQUESTS) this.requests.shift();
  }

  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      response.end(JSON.stringify(body));
    };
    const file = (path: URL, type: string) => {
      response.writeHead(200, { "content-type": type, "cache-control": "no-store" });
      response.end(readFileSync(fileURLToPath(path)));
    };
    try {
      const rest = url.pathname.slice(CONSOLE_PREFIX.length);
      const asset = ASSETS[rest as keyof typeof ASSETS] ?? (rest === "/" ? ASSETS[""] : undefined);
      if (asset && request.method === "GET") return file(asset.file, asset.type);
      const script = /^\/plugins\/([^/]+)\.js$/.exec(rest);
      const plugin = script && this.plugins.find((candidate) => candidate.id === script[1]);
      if (plugin && request.method === "GET") return file(plugin.script, "text/javascript; charset=utf-8");
      if (rest === "/api/plugins" && request.method === "GET")
        return send(200, {
          plugins: this.plugins.map(({ id, panels, inputs }) => ({ id, panels, inputs: inputs ?? [] })),
        });
      if (rest === "/api/state" && request.method === "GET")
        return send(200, await this.state(url.searchParams));
      const fault = /^\/api\/faults\/([^/]+)$/.exec(rest);
      if (fault && request.method === "PUT") {
        const mode = url.searchParams.get("mode") as FaultMode;
        const fn = this.functions.find((candidate) => candidate.id === decodeURIComponent(fault[1]!));
        if (!fn) return send(404, { error: { code: "UnknownFunction", message: `no function ${fault[1]}` } });
        if (!["none", "error", "timeout"].includes(mode))
          return send(400, { error: { code: "InvalidFault", message: "mode is none, error or timeout" } });
        fn.setFault(mode);
        return send(200, { functionId: fn.id, mode });
      }
      send(404, { error: { code: "NotFound", message: `no console path ${url.pathname}` } });
    } catch (error) {
      send(500, { error: { code: "ConsoleError", message: (error as Error).message } });
    }
  }

  /** Everything the page shows: the generic panels, the table and queue picked, and each plug-in's state. */
  async state(query: URLSearchParams) {
    const [queues, items, messages, plugins] = await Promise.all([
      this.queueDepths(),
      this.items(query.get("table") ?? ""),
      this.peek(query.get("queue") ?? ""),
      Promise.all(this.plugins.map(async (plugin) => [plugin.id, await plugin.state(query)] as const)),
    ]);
    return {
      now: Date.now(),
      functions: this.functions.map((fn) => ({ id: fn.id, fault: fn.getFault(), ...fn.activity() })),
      tables: { names: this.tables.map((table) => ({ id: table.logicalId, name: table.name })), items },
      queues: { depths: queues, messages },
      requests: [...this.requests].reverse(),
      plugins: Object.fromEntries(plugins),
    };
  }

  /** A page of the items of the table picked (by logical id or name). */
  private async items(picked: string) {
    const table = this.tables.find(
      (candidate) => candidate.logicalId === picked || candidate.name === picked,
    );
    if (!table) return null;
    const page = await this.read.documents.send(new ScanCommand({ TableName: table.name, Limit: PAGE }));
    return { table: table.logicalId, items: page.Items ?? [], more: page.LastEvaluatedKey !== undefined };
  }

  /** The messages of the queue picked, from the emulator's read-only inspection: nothing is received. */
  private async peek(picked: string) {
    const queue = this.queues.find(
      (candidate) => candidate.logicalId === picked || candidate.name === picked,
    );
    if (!queue) return null;
    const response = await fetch(`${this.sqsEndpoint}/_fauxqs/queues/${encodeURIComponent(queue.name)}`);
    if (!response.ok) return { queue: queue.logicalId, messages: [] };
    const inspected = (await response.json()) as {
      messages: {
        ready: Array<{ messageId: string; body: string }>;
        delayed: Array<{ messageId: string; body: string }>;
        inflight: Array<{ message: { messageId: string; body: string } }>;
      };
    };
    const { ready, delayed, inflight } = inspected.messages;
    const messages = [
      ...ready.map((m) => ({ state: "waiting", id: m.messageId, body: m.body })),
      ...inflight.map(({ message: m }) => ({ state: "in flight", id: m.messageId, body: m.body })),
      ...delayed.map((m) => ({ state: "delayed", id: m.messageId, body: m.body })),
    ];
    return { queue: queue.logicalId, messages: messages.slice(0, PAGE), total: messages.length };
  }

  private async queueDepths() {
    return Promise.all(
      this.queues.map(async (queue) => {
        const { Attributes = {} } = await this.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queue.url,
            AttributeNames: [
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed",
            ],
          }),
        );
        return {
          queue: queue.logicalId,
          visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
          inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
          delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
        };
      }),
    );
  }
}
