/**
 * The console: a live page of the local cloud (http://127.0.0.1:3000/_console, local only; the deployed
 * stack has nothing like it) where the protocols can be watched as they run. The page (page.html,
 * console.js: plain modules, no build step) polls `GET /_console/api/state` and draws:
 *
 * - Paxos: each acceptor's promised and accepted ballot, value and version for a key; faulted replicas;
 * - replication: each replica's version of a KV key (lag = replicas behind the primary), the outbox
 *   records not yet expired, the change counter, every queue's depth (the DLQs and RelayFailures among
 *   them) and the quarantine;
 * - leases: servers with their registration expiry, sessions per server with fencing tokens and expiry;
 * - mesh: a client's slot subset of the live servers;
 * - functions: environments, recent invocations (duration, outcome) and a fault toggle each; and the
 *   HTTP API's recent requests with their status.
 *
 * Everything is read from the engines directly (DynamoDB Local, the SQS emulator) and from the local
 * cloud's own function registry; the only writes are fault toggles and the mesh slot map (brought up to
 * date with the live servers, as GET /servers does).
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { fromRoot } from "../../infra/paths.ts";
import { type LeaseRecord, leaseExpiry, type ServerRecord } from "../../shared/leases/rules.ts";
import { slotSubset } from "../../shared/mesh/balanced.ts";
import { SlotStore } from "../../shared/mesh/slot-store.ts";
import { paxosItemKey } from "../../shared/paxos/dynamodb-acceptor.ts";
import { kvItemKey } from "../../shared/replication/replica-store.ts";
import type { FaultMode, LocalFunction } from "../functions.ts";
import type { RequestRecord } from "../http-api.ts";
import type { LocalQueue } from "../resources.ts";

export const CONSOLE_PREFIX = "/_console";
const ASSETS = {
  "": { file: "local/console/page.html", type: "text/html; charset=utf-8" },
  "/console.js": { file: "local/console/console.js", type: "text/javascript; charset=utf-8" },
} as const;
const RECENT_REQUESTS = 50;
/** At most this many keys are listed per panel (the page stays fast with thousands in the tables). */
const KEY_LIST_LIMIT = 200;

interface Replica {
  id: string;
  table: string;
  fn: LocalFunction;
}

export class LocalConsole {
  private readonly requests: RequestRecord[] = [];
  private readonly documents: DynamoDBDocumentClient;
  private readonly replicas: Replica[];
  private readonly api: Record<string, string>;
  private readonly relay: Record<string, string>;

  private readonly functions: LocalFunction[];
  private readonly queues: LocalQueue[];
  private readonly sqs: SQSClient;

  constructor(functions: LocalFunction[], queues: LocalQueue[], dynamodb: DynamoDBClient, sqs: SQSClient) {
    this.functions = functions;
    this.queues = queues;
    this.sqs = sqs;
    this.documents = DynamoDBDocumentClient.from(dynamodb);
    const envOf = (name: string) =>
      functions.find((fn) => fn.environmentVariables[name])?.environmentVariables ?? {};
    this.api = envOf("LEASE_TABLE");
    this.relay = envOf("QUARANTINE_TABLE");
    const order = (this.api.REPLICA_IDS ?? "").split(",");
    this.replicas = functions
      .filter((fn) => fn.environmentVariables.REPLICA_ID && fn.environmentVariables.REPLICA_TABLE)
      .map((fn) => ({
        id: fn.environmentVariables.REPLICA_ID!,
        table: fn.environmentVariables.REPLICA_TABLE!,
        fn,
      }))
      .sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id) || a.id.localeCompare(b.id));
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
    try {
      const rest = url.pathname.slice(CONSOLE_PREFIX.length);
      const asset = ASSETS[rest as keyof typeof ASSETS] ?? (rest === "/" ? ASSETS[""] : undefined);
      if (asset && request.method === "GET") {
        response.writeHead(200, { "content-type": asset.type, "cache-control": "no-store" });
        return void response.end(readFileSync(fromRoot(asset.file)));
      }
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

  /** Everything the page shows, for the key, KV key and mesh client it asks about. */
  async state(query: URLSearchParams) {
    const paxosKey = query.get("paxos") ?? "";
    const kvKey = query.get("kv") ?? "";
    const [paxos, replication, leases, queues] = await Promise.all([
      this.paxos(paxosKey),
      this.replication(kvKey),
      this.leases(),
      this.queueDepths(),
    ]);
    const live = leases.servers.filter((server) => server.live);
    return {
      now: Date.now(),
      paxos,
      replication: { ...replication, queues },
      leases,
      mesh: await this.mesh(live, query),
      functions: this.functions.map((fn) => ({ id: fn.id, fault: fn.getFault(), ...fn.activity() })),
      requests: [...this.requests].reverse(),
    };
  }

  private async paxos(key: string) {
    const keys = this.replicas[0] ? await this.keysWithPrefix(this.replicas[0].table, "paxos#") : [];
    const acceptors = await Promise.all(
      this.replicas.map(async (replica) => {
        const item = key ? await this.get(replica.table, paxosItemKey(key)) : undefined;
        const state = item?.acceptedState
          ? (JSON.parse(String(item.acceptedState)) as Record<string, unknown>)
          : undefined;
        return {
          replica: replica.id,
          fault: replica.fn.getFault(),
          promised: item?.promised ?? null,
          acceptedBallot: item?.acceptedBallot ?? null,
          version: state?.version ?? null,
          value: state?.value ?? null,
        };
      }),
    );
    return { key, keys, acceptors };
  }

  private async replication(key: string) {
    const keys = this.replicas[0] ? await this.keysWithPrefix(this.replicas[0].table, "kv#") : [];
    const replicas = await Promise.all(
      this.replicas.map(async (replica) => {
        const item = key ? await this.get(replica.table, kvItemKey(key)) : undefined;
        return {
          replica: replica.id,
          fault: replica.fn.getFault(),
          version: (item?.version as string | undefined) ?? null,
          value: item?.value === undefined ? null : JSON.parse(String(item.value)),
        };
      }),
    );
    const primary = replicas[0]?.version ?? null;
    // A version is a hybrid logical clock: its first 15 digits are the write's milliseconds.
    const millis = (version: string | null) => (version === null ? 0 : Number(version.slice(0, 15)));
    const withLag = replicas.map((replica) => ({
      ...replica,
      lagMs: primary === null || replica.version === primary ? 0 : millis(primary) - millis(replica.version),
    }));
    const behind = withLag.filter(
      (replica) => replica.lagMs > 0 || (primary !== null && replica.version === null),
    );
    const outboxTable = this.replicas[0]?.fn.environmentVariables.OUTBOX_TABLE;
    const [outbox, changes, quarantined] = await Promise.all([
      outboxTable && key ? this.count(outboxTable, key) : Promise.resolve(null),
      this.api.CHANGE_COUNTER_TABLE && key
        ? this.get(this.api.CHANGE_COUNTER_TABLE, { pk: key }).then((item) => Number(item?.changes ?? 0))
        : Promise.resolve(null),
      this.relay.QUARANTINE_TABLE ? this.count(this.relay.QUARANTINE_TABLE) : Promise.resolve(null),
    ]);
    return {
      key,
      keys,
      primaryVersion: primary,
      replicas: withLag,
      behind: behind.map((replica) => replica.replica),
      outboxRecords: outbox,
      changes,
      quarantined,
    };
  }

  private async leases() {
    const now = Date.now();
    if (!this.api.SERVER_TABLE || !this.api.LEASE_TABLE) return { servers: [], unassigned: 0 };
    const [servers, leases] = await Promise.all([
      this.scan<ServerRecord>(this.api.SERVER_TABLE),
      this.scan<LeaseRecord>(this.api.LEASE_TABLE),
    ]);
    const registered = servers.filter((server) => typeof server.epoch === "string");
    const byId = new Map(registered.map((server) => [server.serverId, server]));
    const sessions = new Map<string, Array<Record<string, unknown>>>();
    let unassigned = 0;
    for (const lease of leases) {
      const expiresAt = leaseExpiry(lease, byId.get(lease.serverId ?? ""));
      if (expiresAt === undefined || expiresAt < now) {
        unassigned++;
        continue;
      }
      const list = sessions.get(lease.serverId!) ?? [];
      list.push({
        sessionId: lease.sessionId,
        fencingToken: lease.fencingToken,
        leaseExpiresAt: expiresAt,
        movingTo: lease.movingTo ?? null,
      });
      sessions.set(lease.serverId!, list);
    }
    return {
      servers: registered
        .sort((a, b) => a.serverId.localeCompare(b.serverId))
        .map((server) => ({
          serverId: server.serverId,
          epoch: server.epoch,
          expiresAt: server.expiresAt,
          live: server.expiresAt > now,
          sessions: (sessions.get(server.serverId) ?? []).slice(0, KEY_LIST_LIMIT),
          sessionCount: sessions.get(server.serverId)?.length ?? 0,
        })),
      unassigned,
    };
  }

  private async mesh(live: Array<{ serverId: string }>, query: URLSearchParams) {
    const clientId = Number(query.get("client") ?? 0);
    const size = Math.max(1, Number(query.get("size") ?? 3));
    const clients = Math.max(1, Number(query.get("clients") ?? 100));
    if (!this.api.SERVER_TABLE || live.length === 0 || !(clientId >= 0 && clientId < clients))
      return { clientId, size, clients, backends: [] as string[] };
    const slots = await new SlotStore(this.documents, this.api.SERVER_TABLE).slotsFor(
      live.map((s) => s.serverId),
    );
    const slotted = live.map((server) => ({ serverId: server.serverId, slot: slots.get(server.serverId)! }));
    return { clientId, size, clients, backends: slotSubset(slotted, clientId, clients, size) };
  }

  private async queueDepths() {
    return Promise.all(
      this.queues.map(async (queue) => {
        const { Attributes = {} } = await this.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queue.url,
            AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
          }),
        );
        return {
          queue: queue.logicalId,
          visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
          inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
        };
      }),
    );
  }

  private async get(table: string, key: Record<string, unknown>) {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: table, Key: key, ConsistentRead: true }),
    );
    return Item;
  }

  private async scan<T>(table: string, limit = 2_000): Promise<T[]> {
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
  private async keysWithPrefix(table: string, prefix: string): Promise<string[]> {
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
  private async count(table: string, key?: string): Promise<number> {
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
