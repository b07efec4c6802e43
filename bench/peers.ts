/**
 * `npm run bench -- peers`: our building blocks side by side with the well-kept libraries that do the
 * same job, on the same DynamoDB Local, each scenario written once and run against both:
 *
 * - idempotent consumer: our claims (packages/core/src/idempotency/claims.ts) against Powertools idempotency
 *   (@aws-lambda-powertools/idempotency, DynamoDB persistence): cost per message, and a worker paused past
 *   its claim's expiry that completes after another worker took over;
 * - lock/lease: our lease service (packages/core/src/leases/service.ts) against dynamodb-lock-client (FailOpen):
 *   acquire and renew latency, and a holder paused past its lease that then writes the protected state.
 *
 * The outcomes are what each library did in this run, read back from the tables, not claims.
 */

import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { Claims, StaleClaim } from "@serverless-coordination/core/idempotency";
import { LeaseService } from "@serverless-coordination/core/leases";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
// @ts-expect-error: the package ships no types.
import DynamoDBLockClient from "dynamodb-lock-client";
import { type BenchCloud, environmentLine, measure, ratio, table, writeReport } from "./lib.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function benchPeers(cloud: BenchCloud, scale: number) {
  const n = (count: number) => Math.max(10, Math.round(count * scale));
  const run = Date.now().toString(36);
  const client = new DynamoDBClient({
    region: LOCAL_REGION,
    credentials: localCredentials(cloud.accessKeyId),
    endpoint: cloud.dynamodbEndpoint,
  });
  const createTable = async (name: string, key: string) => {
    await client.send(
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
    createTable(`peers-powertools-${run}`, "id"),
    createTable(`peers-claims-${run}`, "pk"),
    createTable(`peers-locks-${run}`, "id"),
    createTable(`peers-resource-${run}`, "pk"),
  ]);
  const effect = (pk: string, by: string) =>
    cloud.documents.send(new PutCommand({ TableName: resourceTable, Item: { pk, by } }));
  const resource = async (pk: string) =>
    (
      await cloud.documents.send(
        new GetCommand({ TableName: resourceTable, Key: { pk }, ConsistentRead: true }),
      )
    ).Item?.by as string | undefined;
  console.log("peers");

  // --- Idempotent consumer -----------------------------------------------------------------------
  /** A Lambda context whose remaining time sets Powertools' in-progress expiry (its claim's lease). */
  const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs });
  const gates = new Map<string, Promise<void>>();
  const powertools = makeIdempotent(
    async (message: { id: string; worker: string }, _context: unknown) => {
      await gates.get(message.worker);
      await effect(message.id, message.worker);
      return { by: message.worker };
    },
    {
      persistenceStore: new DynamoDBPersistenceLayer({ tableName: powertoolsTable, awsSdkV3Client: client }),
      config: new IdempotencyConfig({ eventKeyJmesPath: "id" }),
    },
  );
  const claimsFor = (leaseMs: number) => new Claims(cloud.documents, claimTable, { leaseMs, maxSkewMs: 0 });
  const ours = claimsFor(30_000);
  const oursPerMessage = await measure(
    "ours: claim, then complete with the effect in one transaction",
    async (i) => {
      const id = `msg-${run}-${i}`;
      const claim = await ours.claim(id);
      if (claim.status !== "claimed") throw new Error(`not claimed: ${claim.status}`);
      await ours.complete(claim, [{ Put: { TableName: resourceTable, Item: { pk: id, by: "ours" } } }]);
    },
    { count: n(300), warmup: 10 },
  );
  const powertoolsPerMessage = await measure(
    "Powertools: makeIdempotent around the effect",
    async (i) => {
      await powertools({ id: `pt-${run}-${i}`, worker: "one" }, context(30_000));
    },
    { count: n(300), warmup: 10 },
  );

  // The fault: worker A takes the message, pauses past its lease; B takes over and completes; A resumes.
  const paused = () => {
    let resume = () => {};
    const gate = new Promise<void>((resolve) => {
      resume = resolve;
    });
    return { gate, resume };
  };
  const leaseMs = 800;
  const ptFault = await (async () => {
    const id = `pt-fault-${run}`;
    const a = paused();
    gates.set("A", a.gate);
    const first = powertools({ id, worker: "A" }, context(leaseMs)).then(
      (answer) => ({ answered: JSON.stringify(answer) }),
      (error: Error) => ({ answered: `${error.name}` }),
    );
    await sleep(leaseMs + 400);
    const second = await powertools({ id, worker: "B" }, context(30_000)).then(
      (answer) => JSON.stringify(answer),
      (error: Error) => error.name,
    );
    a.resume();
    const late = await first;
    const replay = await powertools({ id, worker: "C" }, context(30_000)).then(
      (answer) => JSON.stringify(answer),
      (error: Error) => error.name,
    );
    return { takeover: second, stale: late.answered, effect: await resource(id), replay };
  })();
  const oursFault = await (async () => {
    const id = `ours-fault-${run}`;
    const claims = claimsFor(leaseMs);
    const a = await claims.claim(id);
    if (a.status !== "claimed") throw new Error("A did not claim");
    await sleep(leaseMs + 400);
    const b = await claims.claim(id);
    const takeover = b.status;
    if (b.status === "claimed")
      await claims.complete(b, [{ Put: { TableName: resourceTable, Item: { pk: id, by: "B" } } }]);
    const stale = await claims
      .complete(a, [{ Put: { TableName: resourceTable, Item: { pk: id, by: "A" } } }])
      .then(
        () => "completed",
        (error: Error) => (error instanceof StaleClaim ? "StaleClaim (nothing written)" : error.name),
      );
    const replay = (await claims.claim(id)).status;
    return { takeover, stale, effect: await resource(id), replay };
  })();

  // --- Lock / lease --------------------------------------------------------------------------------
  /** dynamodb-lock-client speaks the SDK v2 DocumentClient's callbacks; this adapts lib-dynamodb (v3). */
  const lockStore = (stall: { until?: Promise<void> }, timings: number[]) => {
    const call =
      (command: (params: Record<string, unknown>) => { send(): Promise<unknown> }) =>
      (params: Record<string, unknown>, callback: (error: unknown, data?: unknown) => void) => {
        const started = performance.now();
        void (async () => {
          await stall.until;
          try {
            const data = await command(params).send();
            if (String(params.ConditionExpression ?? "").includes("guid = :guid"))
              timings.push(performance.now() - started);
            callback(null, data);
          } catch (error) {
            (error as { code?: string }).code = (error as Error).name;
            callback(error);
          }
        })();
      };
    const send =
      <T>(make: (params: never) => T) =>
      (params: Record<string, unknown>) => ({
        send: () => cloud.documents.send(make(params as never) as never),
      });
    return {
      get: call(send((params) => new GetCommand(params))),
      put: call(send((params) => new PutCommand(params))),
      delete: call(send((params) => new DeleteCommand(params))),
    };
  };
  const lockClient = (store: ReturnType<typeof lockStore>, leaseDurationMs: number) =>
    new DynamoDBLockClient.FailOpen({
      dynamodb: store,
      lockTable,
      partitionKey: "id",
      heartbeatPeriodMs: Math.round(leaseDurationMs / 4),
      leaseDurationMs,
      trustLocalTime: true,
    });
  type Lock = {
    fencingToken: number;
    release(cb: (error?: unknown) => void): void;
    on(e: string, f: () => void): void;
  };
  const acquire = (
    locks: { acquireLock(id: string, cb: (error: unknown, lock: Lock) => void): void },
    id: string,
  ) =>
    new Promise<Lock>((resolve, reject) =>
      locks.acquireLock(id, (error, lock) => (error ? reject(error) : resolve(lock))),
    );
  const release = (lock: Lock) => new Promise<void>((resolve) => lock.release(() => resolve()));

  const renewals: number[] = [];
  const locks = lockClient(lockStore({}, renewals), 2_000);
  const lockAcquire = await measure(
    "dynamodb-lock-client: acquire a free lock (then release it)",
    async (i) => {
      const lock = await acquire(locks, `bench-${run}-${i}`);
      await release(lock);
    },
    { count: n(200), warmup: 5 },
  );
  const held = await acquire(locks, `renew-${run}`);
  await sleep(3_000); // heartbeats every 500 ms: their conditional puts are the renewals
  await release(held);
  renewals.sort((a, b) => a - b);

  const leases = new LeaseService(cloud.documents, {
    leaseTable: cloud.tableName("Lookup/LeaseTable"),
    serverTable: cloud.tableName("Lookup/ServerTable"),
    config: { leaseDurationMs: 2_000, maxSkewMs: 100 },
  });
  await leases.heartbeat(`peer-${run}-a`);
  // The server heartbeats every 500 ms meanwhile, as a live one does (its registration lives 2 s).
  const beating = setInterval(() => void leases.heartbeat(`peer-${run}-a`).catch(() => {}), 500);
  const leaseAcquire = await measure(
    "ours: assign a new session (lookup)",
    (i) => leases.lookup(`peer-${run}-${i}`).then(() => {}),
    { count: n(200), warmup: 5 },
  ).finally(() => clearInterval(beating));
  const leaseRenew = await measure(
    "ours: renew (a heartbeat of the server holding the sessions above: it renews all of them)",
    () => leases.heartbeat(`peer-${run}-a`).then(() => {}),
    { count: n(200), warmup: 5 },
  );

  // The fault: holder A pauses (no heartbeat gets through) past its lease; B takes over and writes; A
  // resumes and writes what it was about to write.
  const lockFault = await (async () => {
    const id = `fault-${run}`;
    const stall: { until?: Promise<void> } = {};
    const a = await acquire(lockClient(lockStore(stall, []), 1_000), id);
    a.on("error", () => {});
    const pause = paused();
    stall.until = pause.gate; // A's heartbeats stop landing
    const b = await acquire(lockClient(lockStore({}, []), 1_000), id);
    await effect(id, "B");
    pause.resume();
    // A does not know it lost the lock: the library's answer to a pause is the token, which the
    // protected store must check itself; A writes as the holder it believes it is.
    await effect(id, "A");
    const state = await resource(id);
    await release(b);
    return {
      tokens: `${a.fencingToken} then ${b.fencingToken}`,
      staleWrite: "landed (nothing checks the token)",
      state,
    };
  })();
  const leaseFault = await (async () => {
    const session = `fault-${run}`;
    const [a, b] = [`peer-${run}-fa`, `peer-${run}-fb`];
    await leases.heartbeat(a);
    const first = await leases.move(session, a, false).catch(() => leases.lookup(session));
    await leases.writeState(session, first.serverId, first.fencingToken, { by: "A" });
    // A pauses: no heartbeat. B is live; once A's registration and lease expire, the session moves.
    const beating = setInterval(() => void leases.heartbeat(b), 500);
    await leases.heartbeat(b);
    await sleep(2_000 + 100 + 300);
    const second = await leases.lookup(session);
    clearInterval(beating);
    await leases.writeState(session, second.serverId, second.fencingToken, { by: "B" });
    const stale = await leases.writeState(session, first.serverId, first.fencingToken, { by: "A" }).then(
      () => "landed",
      (error: { code?: string }) => `rejected: ${error.code}`,
    );
    const state = await leases.readState(session);
    return {
      tokens: `${first.fencingToken} then ${second.fencingToken}`,
      staleWrite: stale,
      state: (state.state as { by: string }).by,
      holders: `${first.serverId === a ? "A" : first.serverId} then ${second.serverId === b ? "B" : second.serverId}`,
    };
  })();

  const renewStats = {
    p50Ms: renewals.length ? Number(renewals[Math.floor(renewals.length / 2)]!.toPrecision(3)) : Number.NaN,
    count: renewals.length,
  };
  const markdown = `## Peers (\`npm run bench -- peers\`)

${environmentLine()}; the same DynamoDB Local, tables created for this run.

### Idempotent consumer: our claims vs Powertools idempotency

${table(
  ["case", "n", "p50 ms", "p99 ms", "ratio to Powertools p50"],
  [oursPerMessage, powertoolsPerMessage].map((s) => [
    s.name,
    s.count,
    s.p50Ms,
    s.p99Ms,
    ratio(s.p50Ms, powertoolsPerMessage.p50Ms),
  ]),
)}

The same fault for both: worker A takes message m with an ${leaseMs} ms lease (for Powertools, the Lambda
context's remaining time, which sets its in-progress expiry), pauses ${leaseMs + 400} ms, worker B takes m
over and completes, then A resumes and completes. The effect writes who did it.

${table(
  [
    "",
    "B after A's lease ran out",
    "A completing late",
    "the effect's final writer",
    "a later delivery of m",
  ],
  [
    ["ours (claims)", oursFault.takeover, oursFault.stale, String(oursFault.effect), oursFault.replay],
    ["Powertools", ptFault.takeover, ptFault.stale, String(ptFault.effect), ptFault.replay],
  ],
)}

### Lock / lease: our lease service vs dynamodb-lock-client

${table(
  ["case", "n", "p50 ms", "p99 ms"],
  [
    [lockAcquire.name, lockAcquire.count, lockAcquire.p50Ms, lockAcquire.p99Ms],
    [
      "dynamodb-lock-client: renew (one heartbeat: a conditional put on the lock's guid)",
      renewStats.count,
      renewStats.p50Ms,
      "—",
    ],
    [leaseAcquire.name, leaseAcquire.count, leaseAcquire.p50Ms, leaseAcquire.p99Ms],
    [leaseRenew.name, leaseRenew.count, leaseRenew.p50Ms, leaseRenew.p99Ms],
  ],
)}

The same fault for both: holder A's heartbeats stop (a pause), its lease runs out, B takes over and
writes the protected state, then A resumes and writes.

${table(
  ["", "fencing tokens", "A's late write", "the state afterwards"],
  [
    ["ours (lease service)", leaseFault.tokens, leaseFault.staleWrite, `by ${leaseFault.state}`],
    ["dynamodb-lock-client", lockFault.tokens, lockFault.staleWrite, `by ${lockFault.state}`],
  ],
)}

dynamodb-lock-client hands out fencing tokens too; fencing is then the protected store's job, and a store
that does not check them lets the paused holder's write through, as here. Our state writes are
conditioned on the session's newest token inside the service.`;
  writeReport(
    "peers",
    {
      environment: environmentLine(),
      consumer: {
        ours: oursPerMessage,
        powertools: powertoolsPerMessage,
        fault: { ours: oursFault, powertools: ptFault },
      },
      lock: {
        lockAcquire,
        lockRenew: renewStats,
        leaseAcquire,
        leaseRenew,
        fault: { ours: leaseFault, lockClient: lockFault },
      },
    },
    markdown,
  );
}
