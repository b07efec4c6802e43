/**
 * A seeded, deterministic simulation of atomic enqueue and replication: the real Api routes (router,
 * Idempotency-Key handling, coordinator), replica handlers (commit, apply, read), Relay, Replicator (with
 * its claims and change counter) and OutboxReplay, on the DynamoDB model (with SDK retries of writes that
 * landed, transaction conflicts and TTL), a stream model (shards, empty pages, 24-hour trim), an SQS model
 * (FIFO groups, the 5-minute deduplication window, visibility, DLQ) and the two event source mappings.
 *
 * Faults, while they last: every function invocation may crash at any call into a port, before or after
 * the call landed; replicas go down and answers get lost after the replica acted; SQS fails requests and
 * entries, loses answers, and in some seeds refuses sends for minutes (or for 25 hours, past the stream's
 * retention); checkpoints and deletes are lost (duplicate deliveries); the Relay and the Replicator pause
 * past the deduplication window; OutboxReplay runs at random times. Clients retry with the same
 * Idempotency-Key, and sometimes send a request again after its answer.
 *
 * Invariants:
 * - converged: after faults stop and replay runs, every replica holds each key at the primary's version,
 *   with the primary's value (nothing is left in a queue, a DLQ, the failure queue or the quarantine);
 * - committed-only: no replica ever holds a (key, version, value) the primary did not commit;
 * - monotonic: no replica's version of a key ever goes backwards;
 * - counted-once: each key's change counter never exceeds, and in the end equals, its committed versions;
 * - idempotent-commit: a request retried with one Idempotency-Key commits at most once, and every answer
 *   to it names the same version.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { kvContract, kvHandlers } from "../../packages/cdk/handlers/api/kv-routes.ts";
import {
  parseReply,
  type ReplicaInvoker,
  type ReplicaRequest,
} from "../../packages/core/src/contracts/replica.ts";
import { contractRouter } from "../../packages/core/src/http/router.ts";
import { Claims } from "../../packages/core/src/idempotency/claims.ts";
import { IdempotentRequests } from "../../packages/core/src/idempotency/requests.ts";
import { seededRandom } from "../../packages/core/src/mesh/random.ts";
import { Quarantine } from "../../packages/core/src/outbox/quarantine.ts";
import { relayHandler } from "../../packages/core/src/outbox/relay-handler.ts";
import { outboxReplayHandler } from "../../packages/core/src/outbox/replay-handler.ts";
import { DynamoDBAcceptor } from "../../packages/core/src/paxos/dynamodb-acceptor.ts";
import {
  CHANGE_COUNTER_CLAIM_RETENTION_SECONDS,
  ChangeCounter,
} from "../../packages/core/src/replication/change-counter.ts";
import { ReplicationCoordinator } from "../../packages/core/src/replication/coordinator.ts";
import { replicaHandler } from "../../packages/core/src/replication/replica-handler.ts";
import { ReplicaStore } from "../../packages/core/src/replication/replica-store.ts";
import { replicatorHandler } from "../../packages/core/src/replication/replicator-handler.ts";
import { DynamoDBModel } from "./dynamodb-model.ts";
import { Invocation, QueueEventSource, StreamEventSource } from "./event-sources.ts";
import { Scheduler } from "./scheduler.ts";
import { SqsModel } from "./sqs-model.ts";
import { StreamsModel } from "./streams-model.ts";

export type OutboxInvariant =
  | "converged"
  | "committed-only"
  | "monotonic"
  | "counted-once"
  | "idempotent-commit";

/** Deliberately broken worlds for the negative controls. */
export type OutboxBug =
  /** The primary writes the outbox record and then the data, in two writes instead of one transaction. */
  | "dual-write"
  /** A replica applies a change without the lastUpdate condition. */
  | "unconditional-apply"
  /** The counter's claim is taken without its condition: every delivery counts. */
  | "unclaimed-count"
  /** Each attempt of a request gets a fresh write id (the id is not derived from the Idempotency-Key). */
  | "fresh-write-id"
  /** The Relay reports no failures: records it could not send are dropped. */
  | "relay-ignores-failures"
  /** Completed claims expire after 24 hours, while a replay may send a change again for 7 days. */
  | "short-claim-retention";

export interface OutboxSimulationOptions {
  bug?: OutboxBug;
  /** Force (true) or forbid (false) the 25-hour send outage; by default about one seed in 12 has one. */
  longOutage?: boolean;
  clients?: number;
  writesPerClient?: number;
  /**
   * Calm mode: no faults at all, and one client sends exactly these writes (the value as JSON text), one
   * after another; the run then also checks that the primary holds each value exactly as sent.
   */
  writes?: Array<{ key: string; value: string }>;
  trace?: (line: string) => void;
}

export interface OutboxSimulationStats {
  requests: number;
  answered: number;
  commits: number;
  crashes: number;
  relayPointers: number;
  replayedFromStream: number;
  replayedFromOutboxTable: number;
  quarantined: number;
  duplicateDeliveries: number;
  staleApplies: number;
  longOutage: boolean;
}

export interface OutboxSimulationResult extends OutboxSimulationStats {
  ok: boolean;
  invariant?: OutboxInvariant;
  problem?: string;
}

const REPLICAS = ["Replica1", "Replica2", "Replica3"];
const PRIMARY = REPLICAS[0]!;
const CHANGES = "https://sqs.us-east-1.amazonaws.com/000000000000/ChangesQueue.fifo";
const CHANGES_DLQ = "https://sqs.us-east-1.amazonaws.com/000000000000/ChangesDlq.fifo";
const RELAY_FAILURES = "https://sqs.us-east-1.amazonaws.com/000000000000/RelayFailures";
const EPOCH = Date.UTC(2026, 0, 1);
const CALL_TIMEOUT_MS = 2_500;
const HOUR = 3_600_000;

const silent = new Logger({ logLevel: "SILENT" });

interface Request {
  idempotencyKey?: string;
  key: string;
  value: string;
  versions: string[];
}

export async function simulateOutbox(
  seed: number,
  options: OutboxSimulationOptions = {},
): Promise<OutboxSimulationResult> {
  const random = seededRandom(seed);
  const scheduler = new Scheduler();
  const now = () => EPOCH + scheduler.time;
  const sleep = (ms: number) => scheduler.sleep(ms);
  const between = (low: number, high: number) => low + random() * (high - low);
  const bug = options.bug;
  const trace = options.trace ?? (() => {});

  const stats: OutboxSimulationStats = {
    requests: 0,
    answered: 0,
    commits: 0,
    crashes: 0,
    relayPointers: 0,
    replayedFromStream: 0,
    replayedFromOutboxTable: 0,
    quarantined: 0,
    duplicateDeliveries: 0,
    staleApplies: 0,
    longOutage: options.writes ? false : (options.longOutage ?? random() < 1 / 12),
  };
  const calm = options.writes !== undefined;
  let failure: { invariant: OutboxInvariant; problem: string } | undefined;
  const fail = (invariant: OutboxInvariant, problem: string) => {
    failure ??= { invariant, problem: `at ${scheduler.time} ms: ${problem}` };
  };

  // --- The world: DynamoDB, its stream, SQS -------------------------------------------------------
  const model = new DynamoDBModel(
    [
      ...REPLICAS.map((name) => ({ name, hashKey: "pk" })),
      { name: "Outbox", hashKey: "id", ttlAttribute: "expiresAt" },
      { name: "Claims", hashKey: "pk", ttlAttribute: "ttl" },
      { name: "Counter", hashKey: "pk" },
      { name: "Quarantine", hashKey: "sequenceNumber" },
      { name: "Idempotency", hashKey: "pk", ttlAttribute: "ttl" },
    ],
    { now, random, pageSize: 25, lostAnswerRate: 0.02, transactionConflictRate: 0.03 },
  );
  const streams = new StreamsModel(model, "Outbox", "id", {
    now,
    random,
    shards: 1 + Math.floor(random() * 3),
    emptyPageRate: 0.2,
  });

  let faultsOn = !calm;
  const window = (from: number, length: number) => ({ from, to: from + length });
  const within = (windows: Array<{ from: number; to: number }>) =>
    faultsOn && windows.some((w) => scheduler.time >= w.from && scheduler.time < w.to);
  const outage = calm
    ? []
    : stats.longOutage
      ? [window(between(0, 20_000), 25 * HOUR)]
      : random() < 0.4
        ? [window(between(5_000, 120_000), between(30_000, 12 * 60_000))]
        : [];
  const replicaDown = new Map(
    REPLICAS.map((id) => [
      id,
      Array.from({ length: calm ? 0 : Math.floor(random() * 3) }, () =>
        window(between(0, 180_000), between(1_000, 90_000)),
      ),
    ]),
  );
  const pauses = (chance: number) =>
    !calm && random() < chance ? [window(between(0, 120_000), between(60_000, 10 * 60_000))] : [];
  const relayPaused = pauses(0.4);
  const replicatorPaused = pauses(0.4);
  const faultsEnd = Math.max(
    0,
    ...[...outage, ...relayPaused, ...replicatorPaused, ...[...replicaDown.values()].flat()].map((w) => w.to),
  );

  const sqs = new SqsModel(
    [
      {
        url: CHANGES,
        fifo: true,
        visibilityTimeoutSeconds: 60,
        deadLetter: { url: CHANGES_DLQ, maxReceiveCount: 500 },
      },
      { url: CHANGES_DLQ, fifo: true, visibilityTimeoutSeconds: 60 },
      { url: RELAY_FAILURES, fifo: false, visibilityTimeoutSeconds: 300 },
    ],
    { now, random },
  );
  const sqsFaults = {
    requestErrorRate: 0.02,
    lostAnswerRate: 0.03,
    entryFailureRate: 0.02,
    sendOutage: (url: string) => url === CHANGES && within(outage),
  };
  sqs.faults = calm ? {} : sqsFaults;

  // Every request takes a few milliseconds to land, so the actors interleave.
  const latency = () => sleep(1 + random() * 5);
  const network = {
    send: async (command: never) => {
      await latency();
      return model.send(command);
    },
  };
  const sqsClient = {
    send: async (command: never) => {
      await latency();
      return sqs.send(command);
    },
  };
  const streamsClient = {
    send: async (command: never) => {
      await latency();
      return streams.send(command);
    },
  };
  const crashRate = () => (faultsOn ? 0.02 : 0);
  const invocation = () => new Invocation(crashRate(), random);

  // --- Broken worlds (negative controls), at the ports --------------------------------------------
  const documentsFor = (table: string): typeof network => {
    if (bug === "dual-write" && table === PRIMARY)
      return {
        send: async (command: never) => {
          const { input, name } = describe(command);
          if (name !== "TransactWrite") return network.send(command);
          // The outbox record first, then the data: two writes, and a crash may fall between them.
          const actions = input.TransactItems as Array<{ Put: Record<string, unknown> }>;
          const [data, outbox] = actions;
          await network.send(putOf(outbox!.Put));
          if (random() < 0.3) throw new Error("crashed between the outbox write and the data write");
          return network.send(putOf(data!.Put));
        },
      };
    if (bug === "unconditional-apply" && table !== "Claims")
      return {
        send: (command: never) => {
          const { input, name } = describe(command);
          if (name === "Put" && String(input.ConditionExpression).includes("version <"))
            return network.send(
              putOf({ ...input, ConditionExpression: undefined, ExpressionAttributeValues: undefined }),
            );
          return network.send(command);
        },
      };
    if (bug === "unclaimed-count" && table === "Claims")
      return {
        send: (command: never) => {
          const { input, name } = describe(command);
          const unconditional = (put: Record<string, unknown>) => ({
            ...put,
            ConditionExpression: undefined,
            ExpressionAttributeNames: undefined,
            ExpressionAttributeValues: undefined,
          });
          if (name === "Put") return network.send(putOf(unconditional(input)));
          // A batch's claims, in one transaction: each Put without its condition.
          if (name === "TransactWrite")
            return network.send({
              input: {
                ...input,
                TransactItems: (input.TransactItems as Array<Record<string, Record<string, unknown>>>).map(
                  (action) => (action.Put ? { Put: unconditional(action.Put) } : action),
                ),
              },
              constructor: { name: "TransactWriteCommand" },
            } as never);
          return network.send(command);
        },
      };
    return network;
  };

  // --- Replicas: the real replica handler on each replica's table -------------------------------
  const handlers = new Map(
    REPLICAS.map((id) => {
      const documents = documentsFor(id) as unknown as DynamoDBDocumentClient;
      return [
        id,
        replicaHandler(
          new DynamoDBAcceptor(documents, id),
          new ReplicaStore(documents, id, id === PRIMARY ? "Outbox" : undefined, now),
        ),
      ];
    }),
  );
  let freshIds = 0;
  /** Lambda Invoke of a replica, from inside an invocation of another function. */
  const replicas = (caller: Invocation): ReplicaInvoker => ({
    replicaIds: REPLICAS,
    invoke: (id, request, timeoutMs = CALL_TIMEOUT_MS) =>
      caller.guard(async () => {
        let sent: ReplicaRequest = request;
        if (bug === "fresh-write-id" && sent.op === "commit")
          sent = { ...sent, writeId: `fresh-${++freshIds}` };
        await latency();
        if (within(replicaDown.get(id)!)) {
          await sleep(timeoutMs);
          throw new Error(`${id} timed out`);
        }
        const reply = await handlers.get(id)!(JSON.parse(JSON.stringify(sent)));
        if (faultsOn && random() < 0.02) {
          // The replica acted; its answer is lost.
          await sleep(timeoutMs);
          throw new Error(`${id} timed out after acting`);
        }
        await latency();
        const parsed = parseReply(id, request, JSON.parse(JSON.stringify(reply)));
        if (request.op === "apply" && parsed && "result" in parsed && parsed.result === "stale")
          stats.staleApplies++;
        if (request.op === "applyBatch" && parsed && "results" in parsed)
          for (const result of parsed.results)
            if ("result" in result && result.result === "stale") stats.staleApplies++;
        return parsed;
      }),
  });

  // --- The Api: the real router, Idempotency-Key handling, routes and coordinator ------------------
  const api = async (event: APIGatewayProxyEventV2) => {
    const run = invocation();
    const documents = run.client(network) as unknown as DynamoDBDocumentClient;
    const handle = contractRouter(
      kvContract,
      kvHandlers(new ReplicationCoordinator(replicas(run), CALL_TIMEOUT_MS), async () => 0),
      silent,
      new IdempotentRequests(documents, "Idempotency", { inProgressMs: 35_000, now }),
    );
    try {
      return await run.run(() => handle(event));
    } catch {
      stats.crashes++;
      return undefined;
    }
  };

  // --- The Relay on each shard ---------------------------------------------------------------------
  const relaySources = streams.shardIds.map(
    (shardId) =>
      new StreamEventSource(
        streams,
        shardId,
        async (event) => {
          const run = invocation();
          const handle = relayHandler({
            sqs: run.client(sqsClient),
            queueUrl: CHANGES,
            quarantine: new Quarantine(run.client(network) as never, "Quarantine"),
            logger: silent,
          });
          try {
            const response = await run.run(() => handle(event));
            return bug === "relay-ignores-failures" ? { batchItemFailures: [] } : response;
          } catch (error) {
            stats.crashes++;
            if (bug === "relay-ignores-failures") return { batchItemFailures: [] };
            throw error;
          }
        },
        (pointer) => {
          stats.relayPointers++;
          sqs.enqueue(RELAY_FAILURES, JSON.stringify(pointer));
        },
        scheduler,
        random,
        {
          batchSize: 100,
          retryAttempts: 10,
          bisectBatchOnError: true,
          lostCheckpointRate: () => (faultsOn ? 0.03 : 0),
          retryDelayMs: (attempt) =>
            random() < 0.1 ? between(5 * 60_000, 8 * 60_000) : Math.min(60_000, 500 * 2 ** attempt),
          paused: () => within(relayPaused),
        },
      ),
  );

  // --- The Replicator on ChangesQueue --------------------------------------------------------------
  const claimRetention = bug === "short-claim-retention" ? 86_400 : CHANGE_COUNTER_CLAIM_RETENTION_SECONDS;
  const replicator = new QueueEventSource(
    sqs,
    CHANGES,
    async (event) => {
      for (const record of event.Records)
        if (Number(record.attributes.ApproximateReceiveCount) > 1) stats.duplicateDeliveries++;
      const run = invocation();
      const documents = run.client(documentsFor("Claims")) as unknown as DynamoDBDocumentClient;
      const handle = replicatorHandler({
        replicas: replicas(run),
        counter: new ChangeCounter(
          run.client(network) as unknown as DynamoDBDocumentClient,
          "Counter",
          new Claims(documents, "Claims", {
            leaseMs: 30_000,
            maxSkewMs: 1_000,
            retentionSeconds: claimRetention,
            now,
            sleep,
            random,
          }),
        ),
        sqs: run.client(sqsClient),
        queueUrl: CHANGES,
        logger: silent,
      });
      try {
        return await run.run(() => handle(event));
      } catch (error) {
        stats.crashes++;
        throw error;
      }
    },
    scheduler,
    random,
    {
      batchSize: 10,
      pollers: 2,
      lostDeleteRate: () => (faultsOn ? 0.03 : 0),
      paused: () => within(replicatorPaused),
    },
  );

  // --- OutboxReplay, run by an operator ------------------------------------------------------------
  let replaying = false;
  const replay = async () => {
    if (replaying) return;
    replaying = true;
    const run = invocation();
    const handle = outboxReplayHandler({
      streams: run.client(streamsClient),
      sqs: run.client(sqsClient),
      documents: run.client(network),
      quarantine: new Quarantine(run.client(network) as never, "Quarantine"),
      changesQueueUrl: CHANGES,
      relayFailuresQueueUrl: RELAY_FAILURES,
      outboxTable: "Outbox",
      logger: silent,
      now,
    });
    try {
      const result = await run.run(() => handle());
      stats.replayedFromStream += result.failedBatches.sent - result.failedBatches.fromOutboxTable;
      stats.replayedFromOutboxTable += result.failedBatches.fromOutboxTable;
      trace(`${scheduler.time} replay ${JSON.stringify(result)}`);
    } catch {
      stats.crashes++;
    } finally {
      replaying = false;
    }
  };

  // --- What the primary committed, and the online invariants --------------------------------------
  /** key → version → value (JSON), every version the primary ever held. */
  const committed = new Map<string, Map<string, string>>();
  const counted = new Map<string, number>();
  model.onWrite((table, old, next) => {
    if (REPLICAS.includes(table)) {
      const item = (next ?? old)!;
      if (!String(item.pk).startsWith("kv#")) return;
      const key = String(item.key);
      if (!next) return fail("monotonic", `${table} lost ${key}`);
      const version = String(next.version);
      if (old && String(old.version) > version)
        fail("monotonic", `${table} moved ${key} back from ${old.version} to ${version}`);
      if (table === PRIMARY) {
        const versions = committed.get(key) ?? new Map<string, string>();
        versions.set(version, String(next.value));
        committed.set(key, versions);
        if (!old || old.version !== version) stats.commits++;
        return;
      }
      const value = committed.get(key)?.get(version);
      if (value === undefined) fail("committed-only", `${table} holds ${key}@${version}, never committed`);
      else if (value !== String(next.value))
        fail("committed-only", `${table} holds ${key}@${version} with another value than the primary's`);
    }
    if (table === "Counter" && next) {
      const key = String(next.pk);
      const changes = Number(next.changes ?? 0);
      counted.set(key, changes);
      const versions = committed.get(key)?.size ?? 0;
      if (changes > versions)
        fail("counted-once", `${key} counted ${changes} changes of ${versions} committed`);
    }
  });

  // --- Clients --------------------------------------------------------------------------------------
  const keys = Array.from({ length: 1 + Math.floor(random() * 4) }, (_, index) => `k${index}`);
  const requests: Request[] = [];
  const clientCount = calm ? 1 : (options.clients ?? 2 + Math.floor(random() * 3));
  const writes = options.writesPerClient ?? 2 + Math.floor(random() * 4);
  let clientsRunning = clientCount;

  let requestIds = 0;
  const send = async (request: Request, consistency: string) => {
    const event = {
      routeKey: "PUT /kv/{key}",
      rawPath: `/kv/${request.key}`,
      pathParameters: { key: request.key },
      headers: request.idempotencyKey ? { "idempotency-key": request.idempotencyKey } : {},
      body: JSON.stringify({ value: JSON.parse(request.value), consistency }),
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    for (let attempt = 0; attempt < 12; attempt++) {
      stats.requests++;
      // API Gateway gives every attempt its own request id.
      const answer = await api({ ...event, requestContext: { requestId: `r${++requestIds}` } } as never);
      const status = answer?.statusCode ?? 0;
      trace(
        `${scheduler.time} ${request.idempotencyKey ?? "-"} ${request.key} attempt ${attempt}: ${status}`,
      );
      if (status === 200) {
        stats.answered++;
        request.versions.push((JSON.parse(String(answer!.body)) as { version: string }).version);
        return;
      }
      if (status >= 400 && status < 500 && status !== 409)
        return fail("idempotent-commit", `a retry was answered ${status}: ${answer!.body}`);
      // A crash, a 5xx or a 409: the outcome is unknown. Without an Idempotency-Key it stays unknown (a
      // careful client does not retry); with one, the client sends the same request again.
      if (!request.idempotencyKey) return;
      const retryAfter =
        status === 409
          ? (JSON.parse(String(answer!.body)).error.retryAfterMs as number)
          : 200 * 2 ** Math.min(attempt, 6);
      await sleep(retryAfter + random() * 200);
    }
  };

  const calmClient = async () => {
    for (const [n, write] of (options.writes ?? []).entries()) {
      const request: Request = { ...write, versions: [], idempotencyKey: `w${n}-${seed}` };
      requests.push(request);
      await send(request, n % 2 === 0 ? "all" : "primary");
      if (request.versions.length === 0) fail("converged", `the write of ${write.key} was not answered 200`);
    }
    clientsRunning--;
  };

  const client = async (index: number) => {
    for (let n = 0; n < writes; n++) {
      await sleep(between(0, 20_000));
      const request: Request = {
        key: keys[Math.floor(random() * keys.length)]!,
        value: JSON.stringify({ client: index, write: n, nonce: Math.floor(random() * 1e9) }),
        versions: [],
        ...(random() < 0.85 ? { idempotencyKey: `c${index}-w${n}-${seed}` } : {}),
      };
      requests.push(request);
      const consistency = random() < 0.5 ? "all" : "primary";
      await send(request, consistency);
      // Sometimes the same request again after its answer (a proxy's retry, a double click).
      if (request.idempotencyKey && random() < 0.15) await send(request, consistency);
    }
    clientsRunning--;
  };

  if (calm) scheduler.at(1, () => void calmClient());
  else for (let index = 0; index < clientCount; index++) scheduler.at(1, () => void client(index));
  for (const source of relaySources) source.start();
  replicator.start();
  for (let count = calm ? 0 : Math.floor(random() * 4); count > 0; count--)
    scheduler.at(between(10_000, Math.max(20_000, faultsEnd)), () => void replay());
  // TTL runs in the background.
  const expire = () => {
    model.expire();
    scheduler.at(60_000, expire);
  };
  scheduler.at(60_000, expire);

  // --- Phase 1: the workload under faults ----------------------------------------------------------
  await scheduler.runUntil(
    () => failure !== undefined || (clientsRunning === 0 && scheduler.time >= faultsEnd),
    5_000_000,
  );
  faultsOn = false;
  sqs.faults = {};

  // --- Phase 2: faults stop; the operator replays until everything is through ----------------------
  let quiet = 0;
  for (let round = 0; round < 400 && !failure && quiet < 2; round++) {
    const until = scheduler.time + 30_000;
    await scheduler.runUntil(() => failure !== undefined || scheduler.time >= until, 1_000_000);
    const settled =
      !replaying &&
      relaySources.every((source) => source.idle()) &&
      sqs.depth(CHANGES) === 0 &&
      sqs.depth(RELAY_FAILURES) === 0 &&
      model.items("Quarantine").length === 0;
    if (!replaying && (sqs.depth(RELAY_FAILURES) > 0 || model.items("Quarantine").length > 0)) {
      stats.quarantined += model.items("Quarantine").length;
      void replay();
    }
    quiet = settled ? quiet + 1 : 0;
  }

  // --- The final checks ----------------------------------------------------------------------------
  if (!failure && quiet < 2)
    fail(
      "converged",
      `did not settle: ${sqs.depth(CHANGES)} queued, ${sqs.depth(RELAY_FAILURES)} pointers, ${model.items("Quarantine").length} quarantined, ${relaySources.filter((source) => !source.idle()).length} shards behind${replaying ? ", a replay still running" : ""}`,
    );
  if (!failure && sqs.depth(CHANGES_DLQ) > 0)
    fail("converged", `${sqs.depth(CHANGES_DLQ)} changes dead-lettered`);
  if (!failure) {
    const items = new Map(
      REPLICAS.map((id) => [
        id,
        new Map(
          model
            .items(id)
            .filter((item) => String(item.pk).startsWith("kv#"))
            .map((item) => [String(item.key), item]),
        ),
      ]),
    );
    for (const [key] of committed) {
      const primary = items.get(PRIMARY)!.get(key)!;
      for (const id of REPLICAS.slice(1)) {
        const replica = items.get(id)!.get(key);
        if (!replica || replica.version !== primary.version || replica.value !== primary.value)
          fail(
            "converged",
            `${id} holds ${key}@${replica?.version ?? "nothing"}; the primary ${primary.version}`,
          );
      }
      const changes = counted.get(key) ?? 0;
      if (changes !== committed.get(key)!.size)
        fail("counted-once", `${key} counted ${changes} changes of ${committed.get(key)!.size} committed`);
    }
  }
  if (!failure && calm) {
    // Each value as sent, exactly, at the version its answer named (the replicas were compared above).
    for (const request of requests) {
      const held = committed.get(request.key)?.get(request.versions[0] ?? "");
      const sent = JSON.stringify(JSON.parse(request.value));
      if (held !== sent)
        fail("converged", `the primary holds ${request.key} as ${held}; the client sent ${sent}`);
    }
  }
  if (!failure) {
    for (const request of requests) {
      if (!request.idempotencyKey) continue;
      const commits = [...(committed.get(request.key)?.values() ?? [])].filter(
        (value) => value === request.value,
      ).length;
      if (commits > 1) fail("idempotent-commit", `${request.idempotencyKey} committed ${commits} times`);
      if (new Set(request.versions).size > 1)
        fail(
          "idempotent-commit",
          `${request.idempotencyKey} was answered versions ${request.versions.join(", ")}`,
        );
    }
  }
  return { ok: failure === undefined, ...failure, ...stats };
}

/** A command's class name (without "Command") and its input. */
function describe(command: unknown): { name: string; input: Record<string, unknown> } {
  const sent = command as { input: Record<string, unknown>; constructor: { name: string } };
  return { name: sent.constructor.name.replace(/Command$/, ""), input: sent.input };
}

function putOf(input: Record<string, unknown>): never {
  // A lib-dynamodb PutCommand as the model reads it: its input and its class name.
  return { input, constructor: { name: "PutCommand" } } as never;
}
