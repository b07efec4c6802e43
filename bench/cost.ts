/**
 * `npm run bench -- cost`: what each operation costs on AWS, counted where the requests land (meters in
 * front of DynamoDB Local and the SQS endpoint: bench/cost-meter.ts; the local cloud's own counts of API
 * requests and Lambda invocations with their durations), priced with bench/cost-prices.ts, beside the
 * floors docs/benchmarks.md wrote down before the first measurement and beside the alternatives measured
 * in the same run.
 */
import { randomUUID } from "node:crypto";
import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { LookupClient } from "@serverless-coordination/client";
import { Claims } from "@serverless-coordination/core/idempotency";
import { encodeBallot, paxosItemKey } from "@serverless-coordination/core/paxos";
import {
  freePort,
  LOCAL_REGION,
  localCredentials,
  startLocalCloud,
} from "@serverless-coordination/local-cloud";
import { synthesizeStack } from "@serverless-coordination/local-cloud/synthesize";
// @ts-expect-error: the package ships no types.
import DynamoDBLockClient from "dynamodb-lock-client";
import { fromRoot } from "../infra/paths.ts";
import { stageChart } from "./chart.ts";
import { DynamoDBMeter, SqsMeter } from "./cost-meter.ts";
import { PRICES, TYPICAL_MS } from "./cost-prices.ts";
import {
  type BenchCloud,
  environmentLine,
  expectStatus,
  HttpError,
  startBenchCloud,
  table,
  writeReport,
  writeSvg,
} from "./lib.ts";
import { naiveOutboxStack } from "./naive-outbox.ts";

/** What one operation caused, on average. */
interface PerOperation {
  api: number;
  invocations: number;
  /** GB-seconds as billed here (this machine's durations). */
  gbSecondsHere: number;
  /** GB-seconds at the stated AWS-typical durations of each invocation. */
  gbSecondsTypical: number;
  writeUnits: number;
  readUnits: number;
  sqsStandard: number;
  sqsFifo: number;
  /** Where they went: DynamoDB requests by operation, SQS requests by action, invocations by function. */
  breakdown?: Record<string, number>;
}

interface Floor {
  api: number;
  /** Invocations by kind: the Api's rounds of calls, and single-request functions. */
  invocations: number;
  writeUnits: number;
  readUnits: number;
  sqsFifo: number;
  sqsStandard?: number;
  /** Rounds of calls the Api makes (its typical duration). */
  apiRounds: number;
  /** Functions that wait on a round of calls of their own (the Replicator). */
  waiting?: number;
}

/** The floors as docs/benchmarks.md states them (written before the first measurement). */
const FLOORS: Record<string, Floor> = {
  "Paxos set, warm": { api: 1, invocations: 4, writeUnits: 5, readUnits: 0, sqsFifo: 0, apiRounds: 1 },
  "Paxos set after a stale proposer": {
    api: 1,
    invocations: 7,
    writeUnits: 8,
    readUnits: 0,
    sqsFifo: 0,
    apiRounds: 2,
  },
  // Not in the docs' table: the same messages as a write-once POST's (a prepare and an accept round).
  "Paxos set, a key not seen (cold)": {
    api: 1,
    invocations: 7,
    writeUnits: 8,
    readUnits: 0,
    sqsFifo: 0,
    apiRounds: 2,
  },
  "Paxos set, 8 writers on one key": {
    api: 1,
    invocations: 7,
    writeUnits: 8,
    readUnits: 0,
    sqsFifo: 0,
    apiRounds: 2,
  },
  "Paxos get": { api: 1, invocations: 4, writeUnits: 3, readUnits: 0, sqsFifo: 0, apiRounds: 1 },
  "write-once POST": { api: 1, invocations: 7, writeUnits: 8, readUnits: 0, sqsFifo: 0, apiRounds: 2 },
  "KV write primary, applied and counted": {
    api: 1,
    invocations: 6,
    writeUnits: 10,
    readUnits: 0,
    sqsFifo: 3,
    apiRounds: 1,
    waiting: 1,
  },
  "KV write all, applied and counted": {
    api: 1,
    invocations: 8,
    writeUnits: 12,
    readUnits: 0,
    sqsFifo: 3,
    apiRounds: 2,
    waiting: 1,
  },
  "KV read": { api: 1, invocations: 2, writeUnits: 0, readUnits: 1, sqsFifo: 0, apiRounds: 1 },
  // The Api makes the lease operations' requests itself: a quarter round (5 ms) per request.
  "lookup, cached by the client": {
    api: 0,
    invocations: 0,
    writeUnits: 0,
    readUnits: 0,
    sqsFifo: 0,
    apiRounds: 0,
  },
  "lookup, uncached, of a held session": {
    api: 1,
    invocations: 1,
    writeUnits: 0,
    readUnits: 2,
    sqsFifo: 0,
    apiRounds: 0.5,
  },
  "assignment (a session without a lease)": {
    api: 1,
    invocations: 1,
    writeUnits: 1,
    readUnits: 2.5,
    sqsFifo: 0,
    apiRounds: 1,
  },
  "heartbeat, per server": { api: 1, invocations: 1, writeUnits: 3, readUnits: 1, sqsFifo: 0, apiRounds: 1 },
  "idempotent consumer, per message": {
    api: 0,
    invocations: 0,
    writeUnits: 5,
    readUnits: 0,
    sqsFifo: 0,
    apiRounds: 0,
  },
  "heartbeat, per session held, each beat": {
    api: 0,
    invocations: 0,
    writeUnits: 0,
    readUnits: 0.0125,
    sqsFifo: 0,
    apiRounds: 0,
  },
};

const GB = (memoryMb: number) => memoryMb / 1024;

/** Dollars per million operations, by service. */
function dollars(usage: PerOperation, duration: "here" | "typical") {
  const million = 1e6;
  return {
    api: usage.api * PRICES.httpApiRequest.dollars * million,
    lambdaRequests: usage.invocations * PRICES.lambdaRequest.dollars * million,
    lambdaDuration:
      (duration === "here" ? usage.gbSecondsHere : usage.gbSecondsTypical) *
      PRICES.lambdaGbSecond.dollars *
      million,
    dynamodb:
      (usage.writeUnits * PRICES.writeUnit.dollars + usage.readUnits * PRICES.readUnit.dollars) * million,
    sqs:
      (usage.sqsStandard * PRICES.sqsStandardRequest.dollars +
        usage.sqsFifo * PRICES.sqsFifoRequest.dollars) *
      million,
  };
}
const total = (parts: Record<string, number>) => Object.values(parts).reduce((a, b) => a + b, 0);
const round = (n: number) => Number(n.toPrecision(3));

/** Everything counted so far: the meters and the local cloud's own counts. */
function counters(ddb: DynamoDBMeter, sqs: SqsMeter, clouds: Array<Pick<BenchCloud, "usage">>) {
  return {
    ddb: ddb.snapshot(),
    sqs: sqs.snapshot(),
    functions: clouds.flatMap((cloud) => cloud.usage().functions),
    api: clouds.reduce((sum, cloud) => sum + cloud.usage().apiRequests, 0),
  };
}
type Counters = ReturnType<typeof counters>;

/** A function's AWS-typical duration in one operation: the Api per round of calls, a waiting consumer per round, others one request. */
function typicalMs(functionId: string, apiRounds: number): number {
  if (/(^|-)Api$/.test(functionId)) return TYPICAL_MS.own + TYPICAL_MS.perRound * apiRounds;
  if (/Replicator$/.test(functionId)) return TYPICAL_MS.own + TYPICAL_MS.perRound;
  return TYPICAL_MS.oneRequest;
}

function perOperation(
  before: Counters,
  after: Counters,
  operations: number,
  apiRounds: number,
): PerOperation {
  let invocations = 0;
  let gbHere = 0;
  let gbTypical = 0;
  for (const fn of after.functions) {
    const earlier = before.functions.find((candidate) => candidate.id === fn.id);
    const count = fn.invocations - (earlier?.invocations ?? 0);
    const ms = fn.durationMs - (earlier?.durationMs ?? 0);
    invocations += count;
    gbHere += (ms / 1000) * GB(fn.memoryMb);
    gbTypical += count * (typicalMs(fn.id, apiRounds) / 1000) * GB(fn.memoryMb);
  }
  const breakdown: Record<string, number> = {};
  const add = (name: string, count: number) => {
    if (count > 0) breakdown[name] = round(count / operations);
  };
  for (const [op, count] of Object.entries(after.ddb.byOperation))
    add(`DynamoDB ${op}`, count - (before.ddb.byOperation[op] ?? 0));
  for (const [action, count] of Object.entries(after.sqs.byAction))
    add(`SQS ${action}`, count - (before.sqs.byAction[action] ?? 0));
  for (const fn of after.functions)
    add(`invoke ${fn.id}`, fn.invocations - (before.functions.find((c) => c.id === fn.id)?.invocations ?? 0));
  return {
    breakdown,
    api: (after.api - before.api) / operations,
    invocations: invocations / operations,
    gbSecondsHere: gbHere / operations,
    gbSecondsTypical: gbTypical / operations,
    writeUnits: (after.ddb.writeUnits - before.ddb.writeUnits) / operations,
    readUnits: (after.ddb.readUnits - before.ddb.readUnits) / operations,
    sqsStandard: (after.sqs.standard - before.sqs.standard) / operations,
    sqsFifo: (after.sqs.fifo - before.sqs.fifo) / operations,
  };
}

/** The floor as requests and typical durations (memory as the stack's functions': 1024 MB Api, 512 MB others, read from the run). */
function floorUsage(floor: Floor, memory: { api: number; other: number }): PerOperation {
  const others = Math.max(0, floor.invocations - 1 - (floor.waiting ?? 0));
  const gbTypical =
    floor.invocations === 0
      ? 0
      : ((TYPICAL_MS.own + TYPICAL_MS.perRound * floor.apiRounds) / 1000) * GB(memory.api) +
        (floor.waiting ?? 0) * ((TYPICAL_MS.own + TYPICAL_MS.perRound) / 1000) * GB(memory.other) +
        others * (TYPICAL_MS.oneRequest / 1000) * GB(memory.other);
  return {
    api: floor.api,
    invocations: floor.invocations,
    gbSecondsHere: Number.NaN,
    gbSecondsTypical: gbTypical,
    writeUnits: floor.writeUnits,
    readUnits: floor.readUnits,
    sqsStandard: floor.sqsStandard ?? 0,
    sqsFifo: floor.sqsFifo,
  };
}

/** Waits until no function has run for `quietMs` (asynchronous paths done). */
async function quiesce(cloud: BenchCloud, quietMs = 1500) {
  let last = JSON.stringify(cloud.usage().functions);
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = JSON.stringify(cloud.usage().functions);
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

export async function benchCost(scale: number) {
  const n = Math.max(10, Math.round(100 * scale));
  let ddb: DynamoDBMeter | undefined;
  let sqsMeter: SqsMeter | undefined;
  const cloud = await startBenchCloud({}, async (engines) => {
    ddb = await DynamoDBMeter.start(engines.dynamodbEndpoint);
    sqsMeter = await SqsMeter.start(engines.sqsEndpoint);
    return { dynamodbEndpoint: ddb.endpoint, sqsEndpoint: sqsMeter.endpoint };
  });
  // The bench's own reads (is everything counted yet?) go to the engines directly: never metered.
  const config = { region: LOCAL_REGION, credentials: localCredentials(cloud.accessKeyId) };
  const rawClient = new DynamoDBClient({ ...config, endpoint: cloud.engines.dynamodbEndpoint });
  const raw = DynamoDBDocumentClient.from(rawClient);
  const rawSqs = new SQSClient({ ...config, endpoint: cloud.engines.sqsEndpoint });
  const run = Date.now().toString(36);
  const rows: Array<{ name: string; measured: PerOperation; floor?: PerOperation; note?: string }> = [];
  const clouds: Array<Pick<BenchCloud, "usage">> = [cloud];
  const memory = {
    api: cloud.byConstruct(cloud.functions, "Api").usage().memoryMb,
    other: cloud.byConstruct(cloud.functions, "Replica1").usage().memoryMb,
  };

  const call = async (method: string, path: string, body?: unknown, idempotent = true) => {
    const response = await cloud.fetch(`${cloud.apiUrl}${path}`, {
      method,
      headers: idempotent && method !== "GET" ? { "idempotency-key": randomUUID() } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return expectStatus(response, 200, `${method} ${path}`);
  };

  async function measureOperation(
    name: string,
    operations: number,
    operation: (i: number) => Promise<unknown>,
    settle?: () => Promise<void>,
    note?: string,
  ) {
    console.log(`cost: ${name}`);
    await quiesce(cloud);
    const before = counters(ddb!, sqsMeter!, clouds);
    for (let i = 0; i < operations; i++) await operation(i);
    await settle?.();
    await quiesce(cloud);
    const after = counters(ddb!, sqsMeter!, clouds);
    const floor = FLOORS[name];
    rows.push({
      name,
      measured: perOperation(before, after, operations, floor?.apiRounds ?? 1),
      floor: floor && floorUsage(floor, memory),
      note,
    });
  }

  try {
    // Paxos: a warm proposer (the key written once, unmeasured, by the same environment: requests run one
    // at a time, so the same environment takes each).
    const warmKey = `warm-${run}`;
    await call("PUT", `/paxos/${warmKey}`, { value: 0 });
    await measureOperation("Paxos set, warm", n, (i) => call("PUT", `/paxos/${warmKey}`, { value: i + 1 }));
    // A stale proposer: before each write, another proposer's prepare (written straight into every
    // acceptor's item, unmetered) promises a higher ballot, so the warm accept is refused and the write
    // takes a prepare round and an accept round.
    const staleKey = `stale-${run}`;
    await call("PUT", `/paxos/${staleKey}`, { value: 0 });
    const acceptorTables = ["Replica1Table", "Replica2Table", "Replica3Table"].map((id) =>
      cloud.tableName(id),
    );
    const rivalPrepare = async (i: number) => {
      const ballot = encodeBallot({ counter: 1_000_000 * (i + 1), proposerId: "rival" });
      await Promise.all(
        acceptorTables.map((TableName) =>
          raw.send(
            new UpdateCommand({
              TableName,
              Key: paxosItemKey(staleKey),
              UpdateExpression: "SET promised = :ballot",
              ExpressionAttributeValues: { ":ballot": ballot },
            }),
          ),
        ),
      );
    };
    {
      const name = "Paxos set after a stale proposer";
      console.log(`cost: ${name}`);
      await quiesce(cloud);
      const before = counters(ddb!, sqsMeter!, clouds);
      for (let i = 0; i < n; i++) {
        // The rival's prepare is not this operation's: counted apart from it (it goes around the meters).
        await rivalPrepare(i);
        await call("PUT", `/paxos/${staleKey}`, { value: i + 1 });
      }
      await quiesce(cloud);
      const after = counters(ddb!, sqsMeter!, clouds);
      const floor = FLOORS[name]!;
      rows.push({
        name,
        measured: perOperation(before, after, n, floor.apiRounds),
        floor: floorUsage(floor, memory),
        note: "the refused warm accept (3 invocations, 3 refused conditional writes, billed) comes before the two rounds",
      });
    }
    await measureOperation("Paxos set, a key not seen (cold)", n, (i) =>
      call("PUT", `/paxos/cold-${run}-${i}`, { value: i }),
    );
    await measureOperation("Paxos get", n, () => call("GET", `/paxos/${warmKey}`));
    await measureOperation("write-once POST", n, (i) =>
      call("POST", `/paxos/once-${run}-${i}`, { value: i }),
    );
    // 8 writers on one key: successes only are the operations; the 503s they give up with cost too.
    {
      const key = `contended-${run}`;
      let succeeded = 0;
      console.log("cost: Paxos set, 8 writers on one key");
      await quiesce(cloud);
      const before = counters(ddb!, sqsMeter!, clouds);
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < n) {
            const i = next++;
            try {
              await call("PUT", `/paxos/${key}`, { value: i });
              succeeded++;
            } catch (error) {
              if (!(error instanceof HttpError && error.status === 503)) throw error;
            }
          }
        }),
      );
      await quiesce(cloud);
      const after = counters(ddb!, sqsMeter!, clouds);
      const floor = FLOORS["Paxos set, 8 writers on one key"]!;
      rows.push({
        name: "Paxos set, 8 writers on one key",
        measured: perOperation(before, after, Math.max(1, succeeded), floor.apiRounds),
        floor: floorUsage(floor, memory),
        note: `${n - succeeded} of ${n} gave up with 503 (their requests counted, divided over the ${succeeded} that succeeded)`,
      });
    }

    // The replicated store: each write until it is applied on every replica and counted.
    const counterTable = cloud.tableName("ChangeCounterTable");
    const counted = async (prefix: string) => {
      const { Items = [] } = await raw.send(
        new ScanCommand({ TableName: counterTable, ConsistentRead: true }),
      );
      return Items.filter((item) => String(item.pk).startsWith(prefix)).reduce(
        (sum, item) => sum + Number(item.changes),
        0,
      );
    };
    const until = async (what: string, done: () => Promise<boolean>) => {
      const deadline = Date.now() + 120_000;
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`cost: ${what} did not happen in 120 s`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    for (const consistency of ["primary", "all"] as const) {
      const prefix = `kv-${consistency}-${run}-`;
      await measureOperation(
        `KV write ${consistency}, applied and counted`,
        n,
        (i) => call("PUT", `/kv/${prefix}${i}`, { value: { i }, consistency }),
        () => until(`every ${consistency} write counted`, async () => (await counted(prefix)) >= n),
      );
    }
    await measureOperation("KV read", n, (i) => call("GET", `/kv/kv-primary-${run}-${i % 10}`));

    // Leases: one server, its sessions assigned by their first lookup.
    const server = `cost-server-${run}`;
    const beat = () => call("POST", `/servers/${server}/heartbeat`, {});
    await beat();
    await measureOperation("heartbeat, per server", n, () => beat());
    const sessions = Array.from({ length: n }, (_, i) => `cost-session-${run}-${i}`);
    // The server beats (unmeasured) before each measurement, as a live server keeps doing: its
    // sessions' leases ride on its registration.
    await beat();
    await measureOperation("assignment (a session without a lease)", n, (i) =>
      call("GET", `/sessions/${sessions[i]}`),
    );
    await beat();
    await measureOperation("lookup, uncached, of a held session", n, (i) =>
      call("GET", `/sessions/${sessions[i]}`),
    );
    await beat();
    const client = new LookupClient({ endpoint: cloud.apiUrl, maxSkewMs: 1_000, fetch: cloud.fetch });
    for (const session of sessions) await client.lookup(session);
    await measureOperation(
      "lookup, cached by the client",
      n,
      (i) => client.lookup(sessions[i]!),
      undefined,
      "the client's cache: nothing leaves the caller",
    );
    // A session held costs each heartbeat what a beat with its sessions costs over one without any.
    {
      console.log("cost: heartbeat, per session held, each beat");
      const idle = `cost-idle-${run}`;
      await call("POST", `/servers/${idle}/heartbeat`, {});
      const beats = Math.max(5, Math.round(n / 10));
      const measureBeats = async (serverId: string) => {
        await quiesce(cloud);
        const before = counters(ddb!, sqsMeter!, clouds);
        for (let i = 0; i < beats; i++) await call("POST", `/servers/${serverId}/heartbeat`, {});
        await quiesce(cloud);
        return perOperation(before, counters(ddb!, sqsMeter!, clouds), beats, 1);
      };
      const withSessions = await measureBeats(server);
      const without = await measureBeats(idle);
      const perSession = Object.fromEntries(
        Object.entries(withSessions).map(([field, value]) => [
          field,
          typeof value === "number" ? (value - (without[field as keyof PerOperation] as number)) / n : value,
        ]),
      ) as unknown as PerOperation;
      perSession.breakdown = Object.fromEntries(
        Object.entries(withSessions.breakdown ?? {}).map(([what, count]) => [
          what,
          round((count - (without.breakdown?.[what] ?? 0)) / n),
        ]),
      );
      const floor = FLOORS["heartbeat, per session held, each beat"]!;
      rows.push({
        name: "heartbeat, per session held, each beat",
        measured: perSession,
        floor: floorUsage(floor, memory),
        note: `a beat of a server holding ${n} sessions against one holding none, divided by ${n}`,
      });
    }

    // Alternatives, through the same meters.
    const documents = cloud.documents;
    const direct = cloud.tableName("Replica1Table");
    await measureOperation(
      "alternative: one conditional write from the caller",
      n,
      (i) =>
        documents.send(
          new UpdateCommand({
            TableName: direct,
            Key: { pk: `direct-${run}-${i}` },
            UpdateExpression: "SET #v = :v, version = :version",
            ConditionExpression: "attribute_not_exists(version) OR version < :version",
            ExpressionAttributeNames: { "#v": "value" },
            ExpressionAttributeValues: { ":v": i, ":version": 1 },
          }),
        ),
      undefined,
      "a single-region register: one conditional UpdateItem, no Lambda, no API",
    );

    // The idempotent consumer (in the consumer's own process, through the metered client) beside
    // Powertools idempotency around the same effect; dynamodb-lock-client beside our leases.
    {
      const createTable = async (name: string, key: string) => {
        await rawClient.send(
          new CreateTableCommand({
            TableName: name,
            AttributeDefinitions: [{ AttributeName: key, AttributeType: "S" }],
            KeySchema: [{ AttributeName: key, KeyType: "HASH" }],
            BillingMode: "PAY_PER_REQUEST",
          }),
        );
        return name;
      };
      const [powertoolsTable, claimTable, lockTable, resourceTable] = await Promise.all([
        createTable(`cost-powertools-${run}`, "id"),
        createTable(`cost-claims-${run}`, "pk"),
        createTable(`cost-locks-${run}`, "id"),
        createTable(`cost-resource-${run}`, "pk"),
      ]);
      const metered = new DynamoDBClient({ ...config, endpoint: ddb!.endpoint });
      const claims = new Claims(documents, claimTable, { leaseMs: 30_000, maxSkewMs: 0 });
      await measureOperation("idempotent consumer, per message", n, async (i) => {
        const id = `msg-${run}-${i}`;
        const claim = await claims.claim(id);
        if (claim.status !== "claimed") throw new Error(`not claimed: ${claim.status}`);
        await claims.complete(claim, [{ Put: { TableName: resourceTable, Item: { pk: id, by: "ours" } } }]);
      });
      const powertools = makeIdempotent(
        async (message: { id: string }, _context: unknown) => {
          await documents.send(
            new PutCommand({ TableName: resourceTable, Item: { pk: message.id, by: "pt" } }),
          );
          return { ok: true };
        },
        {
          persistenceStore: new DynamoDBPersistenceLayer({
            tableName: powertoolsTable,
            awsSdkV3Client: metered,
          }),
          config: new IdempotencyConfig({ eventKeyJmesPath: "id" }),
        },
      );
      await measureOperation(
        "alternative: Powertools idempotency, per message",
        n,
        (i) => powertools({ id: `pt-${run}-${i}` }, { getRemainingTimeInMillis: () => 30_000 } as never),
        undefined,
        "the in-progress record, the effect, the record's completion: the effect is not in one transaction with the record, so a worker paused past its expiry writes its effect after another worker's (the peers bench's fault)",
      );
      const lockStore = (renewals: { count: number }) => {
        const call =
          (make: (params: Record<string, unknown>) => unknown) =>
          (params: Record<string, unknown>, callback: (error: unknown, data?: unknown) => void) => {
            if (String(params.ConditionExpression ?? "").includes("guid = :guid")) renewals.count++;
            documents.send(make(params) as never).then(
              (data) => callback(null, data),
              (error: Error) => {
                (error as { code?: string }).code = error.name;
                callback(error);
              },
            );
          };
        return {
          get: call((params) => new GetCommand(params as never)),
          put: call((params) => new PutCommand(params as never)),
          delete: call((params) => new DeleteCommand(params as never)),
        };
      };
      type Lock = { release(cb: (error?: unknown) => void): void };
      const renewals = { count: 0 };
      const locks = new DynamoDBLockClient.FailOpen({
        dynamodb: lockStore(renewals),
        lockTable,
        partitionKey: "id",
        heartbeatPeriodMs: 500,
        leaseDurationMs: 2_000,
        trustLocalTime: true,
      });
      const acquire = (id: string) =>
        new Promise<Lock>((resolve, reject) =>
          locks.acquireLock(id, (error: unknown, lock: Lock) => (error ? reject(error) : resolve(lock))),
        );
      const release = (lock: Lock) => new Promise<void>((resolve) => lock.release(() => resolve()));
      await measureOperation(
        "alternative: dynamodb-lock-client acquire and release",
        n,
        async (i) => release(await acquire(`lock-${run}-${i}`)),
        undefined,
        "a lock with a fencing token the protected store must check itself: a holder paused past its lease writes through a store that does not (the peers bench's fault)",
      );
      {
        console.log("cost: alternative: dynamodb-lock-client, per lock held, each heartbeat");
        const held = await acquire(`held-${run}`);
        const before = counters(ddb!, sqsMeter!, clouds);
        renewals.count = 0;
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        const beats = renewals.count;
        const after = counters(ddb!, sqsMeter!, clouds);
        await release(held);
        rows.push({
          name: "alternative: dynamodb-lock-client, per lock held, each heartbeat",
          measured: perOperation(before, after, Math.max(1, beats), 0),
          note: `${beats} heartbeats in 3 s, each a conditional put of the lock`,
        });
      }
      metered.destroy();
    }

    // The naive outbox: its own stack on the same engines, through the same meters.
    const naive = await startLocalCloud({
      stack: synthesizeStack(naiveOutboxStack, fromRoot(".local/bench-naive-assembly")),
      engines: { dynamodbEndpoint: ddb!.endpoint, sqsEndpoint: sqsMeter!.endpoint },
      httpPort: await freePort(),
      lambdaPort: await freePort(),
      namePrefix: `naive-${run}`,
      log: (line) => console.error(`[local naive] ${line}`),
    });
    clouds.push(naive);
    try {
      const queueUrl = naive.outputs.QueueUrl!;
      let received = 0;
      const drain = async (count: number) => {
        while (received < count) {
          const { Messages = [] } = await rawSqs.send(
            new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
          );
          received += Messages.length;
          if (Messages.length)
            await rawSqs.send(
              new DeleteMessageBatchCommand({
                QueueUrl: queueUrl,
                Entries: Messages.map((message, index) => ({
                  Id: String(index),
                  ReceiptHandle: message.ReceiptHandle,
                })),
              }),
            );
        }
      };
      const put = (key: string, value: number) =>
        fetch(`${naive.apiUrl}/naive/${key}`, { method: "PUT", body: JSON.stringify({ value }) }).then(
          (response) => expectStatus(response, 200, "PUT /naive"),
        );
      await put(`naive-${run}-warm`, -1);
      await drain(1);
      received = 0;
      await measureOperation(
        "alternative: naive outbox, to the message sent",
        n,
        (i) => put(`naive-${run}-${i}`, i),
        () => drain(n),
        "PutItem, its stream, one SendMessage per record; nothing applies or counts the change (the bench's receives are not counted)",
      );
    } finally {
      await naive.stop();
    }
  } finally {
    raw.destroy();
    rawSqs.destroy();
    await cloud.stop();
    await ddb?.stop();
    await sqsMeter?.stop();
  }

  const priced = rows.map((row) => {
    const here = dollars(row.measured, "here");
    const typical = dollars(row.measured, "typical");
    const floor = row.floor && dollars(row.floor, "typical");
    return { ...row, here, typical, floorDollars: floor };
  });
  const find = (name: string) => priced.find((row) => row.name === name)!;
  const register = find("alternative: one conditional write from the caller");
  const naiveRow = find("alternative: naive outbox, to the message sent");
  const fmt = (n: number) => (Number.isFinite(n) ? String(round(n)) : "—");
  const operationsTable = table(
    [
      "operation",
      "API",
      "Lambda inv.",
      "WRU",
      "RRU",
      "SQS std",
      "SQS FIFO",
      "$/M (typical duration)",
      "$/M (duration here)",
      "duration share (typical)",
      "floor $/M",
      "× floor",
    ],
    priced.map((row) => {
      const typicalTotal = total(row.typical);
      return [
        row.name,
        fmt(row.measured.api),
        fmt(row.measured.invocations),
        fmt(row.measured.writeUnits),
        fmt(row.measured.readUnits),
        fmt(row.measured.sqsStandard),
        fmt(row.measured.sqsFifo),
        fmt(typicalTotal),
        fmt(total(row.here)),
        typicalTotal > 0 ? `${Math.round((row.typical.lambdaDuration / typicalTotal) * 100)}%` : "—",
        row.floorDollars ? fmt(total(row.floorDollars)) : "—",
        row.floorDollars && total(row.floorDollars) > 0 ? fmt(typicalTotal / total(row.floorDollars)) : "—",
      ];
    }),
  );
  const verdicts = priced
    .filter((row) => row.floorDollars)
    .map((row) => {
      const floorTotal = total(row.floorDollars!);
      // A floor of nothing (the client's cache) is met only by nothing.
      const ratio =
        floorTotal > 0
          ? total(row.typical) / floorTotal
          : total(row.typical) > 0
            ? Number.POSITIVE_INFINITY
            : 1;
      const over = [
        row.measured.invocations > (FLOORS[row.name]?.invocations ?? 0) + 0.05
          ? `${fmt(row.measured.invocations - FLOORS[row.name]!.invocations)} invocations`
          : "",
        row.measured.writeUnits > (FLOORS[row.name]?.writeUnits ?? 0) + 0.05
          ? `${fmt(row.measured.writeUnits - FLOORS[row.name]!.writeUnits)} write units`
          : "",
        row.measured.readUnits > (FLOORS[row.name]?.readUnits ?? 0) + 0.05
          ? `${fmt(row.measured.readUnits - FLOORS[row.name]!.readUnits)} read units`
          : "",
        row.measured.sqsFifo + row.measured.sqsStandard > (FLOORS[row.name]?.sqsFifo ?? 0) + 0.05
          ? `${fmt(row.measured.sqsFifo + row.measured.sqsStandard - FLOORS[row.name]!.sqsFifo)} SQS requests`
          : "",
      ].filter(Boolean);
      const alternative = row.name.startsWith("KV write primary")
        ? `; ${fmt(total(row.typical) / total(naiveRow.typical))}× the naive outbox (target ≤ 2×: ${total(row.typical) / total(naiveRow.typical) <= 2 ? "met" : "missed"}), which sends what was never committed when its write and its send are not one transaction, and applies and counts nothing`
        : row.name.startsWith("Paxos") || row.name.startsWith("write-once")
          ? `; ${fmt(total(row.typical) / total(register.typical))}× one conditional write from the caller, which is one region's register with no agreement among replicas: it has no copy to survive a replica's loss, and its callers' retries are not idempotent`
          : row.name.startsWith("idempotent consumer")
            ? `; ${fmt(total(row.typical) / total(find("alternative: Powertools idempotency, per message").typical))}× Powertools idempotency, whose effect is not in one transaction with its record: in the peers bench a worker paused past its in-progress expiry still wrote its effect after the worker that took over, where ours wrote nothing (StaleClaim)`
            : row.name.startsWith("assignment")
              ? `; ${fmt(total(row.typical) / total(find("alternative: dynamodb-lock-client acquire and release").typical))}× a dynamodb-lock-client acquire and release (no API, no Lambda), which leaves fencing to the protected store: in the peers bench a holder paused past its lease wrote through; ours refuse a write with an older token inside the service`
              : row.name.startsWith("heartbeat, per session held")
                ? `; ${fmt(total(row.typical) / total(find("alternative: dynamodb-lock-client, per lock held, each heartbeat").typical))}× dynamodb-lock-client's renewal of one lock (a conditional put per lock per heartbeat)`
                : "";
      return `- ${row.name}: ${fmt(ratio)}× its floor (target ≤ 1.25×: ${ratio <= 1.25 ? "met" : "missed"})${over.length ? `, above it by ${over.join(", ")} per operation` : ""}${alternative}${row.note ? `. ${row.note}` : ""}.`;
    });
  const series = ["API Gateway", "Lambda requests", "Lambda duration (typical)", "DynamoDB", "SQS"];
  const chart = writeSvg(
    "cost",
    stageChart(
      "Dollars per million operations, by service (us-east-1 on-demand, typical Lambda durations)",
      series,
      priced.map((row) => ({
        name: row.name.replace("alternative: ", "alt: "),
        values: [
          row.typical.api,
          row.typical.lambdaRequests,
          row.typical.lambdaDuration,
          row.typical.dynamodb,
          row.typical.sqs,
        ].map(round),
      })),
      "$/M",
    ),
  );
  const markdown = `## Cost per operation (\`npm run bench -- cost\`): measured

${environmentLine()}

Each operation ${n} times, one at a time (the contended case: 8 writers), counted where the requests land:
DynamoDB's consumed capacity as DynamoDB Local reports it for each request, SQS requests by 64 KiB
chunk at the SQS endpoint, API requests and Lambda invocations with their durations by the local cloud.
Asynchronous work (the outbox, the Replicator) is waited for, until the change is counted and no function
runs. Lambda duration is priced twice: from this machine's durations, and from AWS-typical ones
(\`bench/cost-prices.ts\`: ${TYPICAL_MS.oneRequest} ms for a function making one request, ${TYPICAL_MS.own} ms plus ${TYPICAL_MS.perRound} ms per round of calls for
one that waits on others; assumed, not measured). The "× floor" column compares the typical-duration
total with the floor priced the same way.

${operationsTable}

![${series.join(", ")}](${chart.replace(/^docs\//, "")})

Verdicts:

${verdicts.join("\n")}

Where each operation's requests went (per operation; batches divided over the changes they carried, so
the asynchronous path of a write can fall below a floor written for a batch of one):

${priced
  .map(
    (row) =>
      `- ${row.name}: ${Object.entries(row.measured.breakdown ?? {})
        .map(([what, count]) => `${what} ${count}`)
        .join(", ")}`,
  )
  .join("\n")}

Prices (${PRICES.region}, read ${PRICES.readOn}): ${Object.entries(PRICES)
    .filter(([, value]) => typeof value === "object")
    .map(
      ([name, value]) =>
        `${name} $${(value as { dollars: number }).dollars * 1e6}/M (${(value as { source: string }).source})`,
    )
    .join("; ")}.
`;
  writeReport("cost", priced, markdown);
}
