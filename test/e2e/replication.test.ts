/**
 * The replicated key-value store end to end: `all` and `primary` writes through the Api, the primary's
 * outbox transaction, the Relay to ChangesQueue and the Replicator, under the local cloud's faults; and
 * the local console watching it in a real browser.
 */
import { mkdirSync } from "node:fs";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { ApiClient, UnknownOutcomeError } from "@serverless-coordination/client";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";
import { CHROMIUM, waitFor } from "../support/browser.ts";
import { callApi, callApiWithHeaders, type Json, pool } from "../support/http.ts";
import { eventually, type TestCloud, uniqueId } from "../support/local-cloud.ts";
import { type E2ETarget, startTarget } from "../support/target.ts";

const REPLICAS = ["Replica1", "Replica2", "Replica3"];
let target: E2ETarget;
let cloud: TestCloud | undefined;

beforeAll(async () => {
  target = await startTarget();
  cloud = target.cloud;
});
afterAll(async () => {
  await target?.stop();
});
afterEach(async () => {
  if (cloud) for (const id of [...REPLICAS, "Outbox-Relay", "Replicator"]) await cloud.fault(id, "none");
});

const call = (method: string, path: string, body?: unknown) => callApi(target.baseUrl, method, path, body);
const put = (key: string, value: unknown, consistency: string) =>
  call("PUT", `/kv/${key}`, { value, consistency });
const readReplica = async (key: string, replica: string) => {
  const answer = await call("GET", `/kv/${key}?replica=${replica}`);
  return answer.status === 200 ? (answer.body as { version: string; value: unknown }) : undefined;
};
const versionsOn = (key: string) => Promise.all(REPLICAS.map((replica) => readReplica(key, replica)));
const changes = async (key: string) => (await call("GET", `/kv/${key}/changes`)).body.changes as number;

describe("writes and reads", () => {
  it("a primary write answers after the primary alone and reaches every replica within a bounded lag", async () => {
    const key = `primary-${uniqueId()}`;
    const answer = await put(key, { n: 1 }, "primary");
    const answeredAt = Date.now();
    expect(answer).toMatchObject({ status: 200, body: { key, consistency: "primary", acks: ["Replica1"] } });
    const { version } = answer.body;
    expect(version).toMatch(/^\d{15}\.\d{6}$/);
    await eventually(
      () => versionsOn(key),
      (values) => values.every((value) => value?.version === version),
      10_000,
      10,
    );
    const lag = Date.now() - answeredAt;
    console.log(`primary write: every replica had it ${lag} ms after the answer`);
    expect(lag).toBeLessThan(10_000);
    for (const replica of REPLICAS)
      expect(await readReplica(key, replica)).toMatchObject({ value: { n: 1 } });
    expect(
      await eventually(
        () => changes(key),
        (n) => n === 1,
      ),
    ).toBe(1);
  });

  it("an all write answers after every replica applied it; versions increase per key", async () => {
    const key = `all-${uniqueId()}`;
    const first = await put(key, "a", "all");
    expect(first).toMatchObject({ status: 200, body: { key, consistency: "all", acks: REPLICAS } });
    const values = await versionsOn(key);
    expect(values.map((value) => value?.version)).toEqual(Array(3).fill(first.body.version));
    const second = await put(key, "b", "all");
    expect(second.body.version > first.body.version).toBe(true);
    expect(await call("GET", `/kv/${key}`)).toMatchObject({
      status: 200,
      body: { key, value: "b", version: second.body.version },
    });
    // Every accepted write, whatever its mode, is one message: two changes.
    expect(
      await eventually(
        () => changes(key),
        (n) => n === 2,
      ),
    ).toBe(2);
  });

  it("rejects bad input with 400 and writes nothing", async () => {
    const key = `bad-${uniqueId()}`;
    const cases: Array<[string, unknown, string]> = [
      [key, { value: 1, consistency: "quorum" }, "InvalidBody"],
      [key, { value: 1 }, "InvalidBody"],
      [key, { consistency: "all" }, "InvalidBody"],
      [key, { value: "x".repeat(64 * 1024 + 1), consistency: "primary" }, "InvalidBody"],
      ["bad key!", { value: 1, consistency: "all" }, "InvalidKey"],
    ];
    for (const [path, body, code] of cases) {
      const answer = await call("PUT", `/kv/${encodeURIComponent(path)}`, body);
      expect(answer, JSON.stringify(body).slice(0, 80)).toMatchObject({
        status: 400,
        body: { error: { code } },
      });
    }
    const badJson = await target.fetch(`${target.baseUrl}/kv/${key}`, { method: "PUT", body: "{nope" });
    expect(badJson.status).toBe(400);
    expect((await call("GET", `/kv/${key}?consistency=most`)).status).toBe(400);
    expect((await call("GET", `/kv/${key}?replica=Replica9`)).status).toBe(400);
    expect((await call("GET", `/kv/${key}`)).status).toBe(404);
    expect((await call("GET", `/kv/${key}?consistency=all`)).status).toBe(404);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await changes(key)).toBe(0);
  });
});

describe.runIf(!process.env.E2E_BASE_URL)("faults", () => {
  const invoke = async (functionId: string) => {
    const lambda = new LambdaClient({
      region: LOCAL_REGION,
      credentials: localCredentials("local"),
      endpoint: cloud!.lambdaEndpoint,
    });
    // A function's id is its construct path ("Coordination-Outbox-Replay"); the tests name its tail.
    const fn = cloud!.functions.find((candidate) => candidate.id.endsWith(`-${functionId}`))!;
    const response = await lambda.send(new InvokeCommand({ FunctionName: fn.name }));
    lambda.destroy();
    expect(response.FunctionError).toBeUndefined();
    return JSON.parse(Buffer.from(response.Payload!).toString("utf8"));
  };

  it("an all write with a replica down answers 503 naming it; the queue and read repair converge it", async () => {
    const key = `down-${uniqueId()}`;
    await cloud!.fault("Replica3", "error");
    const answer = await put(key, "v1", "all");
    expect(answer).toMatchObject({
      status: 503,
      body: { error: { code: "ReplicaUnavailable", missing: ["Replica3"], acks: ["Replica1", "Replica2"] } },
    });
    expect(answer.body.error.message).toMatch(/Replica3/);
    expect((await call("GET", `/kv/${key}?consistency=all`)).status).toBe(503);
    await cloud!.fault("Replica3", "none");
    // The Replicator retries the change until Replica3 is back.
    const converged = await eventually(
      () => versionsOn(key),
      (values) => values.every((value) => value?.version === answer.body.error.version),
    );
    expect(converged.map((value) => value?.value)).toEqual(["v1", "v1", "v1"]);
    expect(
      await eventually(
        () => changes(key),
        (n) => n === 1,
      ),
    ).toBe(1);
  });

  it("read repair brings a stale replica up to date", async () => {
    const key = `repair-${uniqueId()}`;
    await put(key, "old", "all");
    // Replicas 2 and 3 miss the newer write for as long as the Replicator is down.
    await cloud!.fault("Replicator", "error");
    const newer = await put(key, "new", "primary");
    expect((await readReplica(key, "Replica2"))?.value).toBe("old");
    const read = await call("GET", `/kv/${key}?consistency=all`);
    expect(read).toMatchObject({
      status: 200,
      body: { value: "new", version: newer.body.version, repaired: ["Replica2", "Replica3"] },
    });
    expect((await versionsOn(key)).map((value) => value?.value)).toEqual(["new", "new", "new"]);
  });

  it("loses and duplicates nothing when the Relay fails for a while during 200 writes", async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `relay-${uniqueId()}-${i}`);
    await cloud!.fault("Outbox-Relay", "error");
    const faultStarted = Date.now();
    const answers = await pool(200, 8, (i) => put(keys[i % keys.length]!, i, "primary"));
    // Every write answered 200 (a failure names the answers that did not).
    expect(
      answers.filter((answer) => answer.status !== 200).map((answer) => [answer.status, answer.body]),
    ).toEqual([]);
    // Until the event source has given up on a batch: its pointer is on the Relay's failure queue.
    const failures = cloud!.queueUrl("Outbox/RelayFailures");
    await eventually(
      async () =>
        Number(
          (
            await cloud!.sqs.send(
              new GetQueueAttributesCommand({
                QueueUrl: failures,
                AttributeNames: ["ApproximateNumberOfMessages"],
              }),
            )
          ).Attributes?.ApproximateNumberOfMessages ?? 0,
        ),
      (pointers) => pointers > 0,
      30_000,
      250,
    );
    console.log(`relay outage: the event source gave up after ${Date.now() - faultStarted} ms`);
    await cloud!.fault("Outbox-Relay", "none");
    // The documented recovery for the batches the Relay gave up on, run until nothing is left.
    const replayed = { batches: 0, sent: 0 };
    for (let run = 0; run < 30; run++) {
      const result = await invoke("Outbox-Replay");
      replayed.batches += result.failedBatches.batches;
      replayed.sent += result.failedBatches.sent;
      if (result.failedBatches.remaining === 0 && replayed.batches > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    console.log(`relay outage: replayed ${JSON.stringify(replayed)}`);
    // The replay did the work: it found the given-up batches and sent their records.
    expect(replayed.batches).toBeGreaterThan(0);
    expect(replayed.sent).toBeGreaterThan(0);

    const expected = new Map<string, { count: number; version: string }>();
    for (const [i, answer] of answers.entries()) {
      const key = keys[i % keys.length]!;
      const seen = expected.get(key);
      const version = answer.body.version as string;
      expected.set(key, {
        count: (seen?.count ?? 0) + 1,
        version: seen && seen.version > version ? seen.version : version,
      });
    }
    for (const [key, { count, version }] of expected) {
      expect(
        await eventually(
          () => changes(key),
          (n) => n >= count,
          30_000,
        ),
      ).toBe(count);
      const values = await eventually(
        () => versionsOn(key),
        (all) => all.every((value) => value?.version === version),
      );
      expect(values.map((value) => value?.version)).toEqual([version, version, version]);
    }
    // No late duplicate is still on its way: a marker write per key goes through the same FIFO group
    // after everything before it, and once it is counted, the count is exactly one more.
    for (const key of expected.keys()) await put(key, "marker", "primary");
    for (const [key, { count }] of expected)
      expect(
        await eventually(
          () => changes(key),
          (n) => n >= count + 1,
          30_000,
        ),
      ).toBe(count + 1);
  });

  it("applies nothing twice when the Replicator fails after applying a change to part of the replicas", async () => {
    const keys = Array.from({ length: 3 }, (_, i) => `partial-${uniqueId()}-${i}`);
    // Replicas 1 and 2 apply each change, Replica3 fails it: every message is redelivered.
    await cloud!.fault("Replica3", "error");
    const answers = await pool(30, 4, (i) => put(keys[i % 3]!, i, "primary"));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    for (const key of keys) expect(await changes(key)).toBe(0);
    await cloud!.fault("Replica3", "none");
    for (const [k, key] of keys.entries()) {
      // Writes to a key ran concurrently: the newest is the highest version, not the last answered.
      const last = answers
        .filter((_, i) => i % 3 === k)
        .map((answer) => answer.body.version as string)
        .sort()
        .at(-1);
      expect(
        await eventually(
          () => changes(key),
          (n) => n >= 10,
          30_000,
        ),
      ).toBe(10);
      const values = await eventually(
        () => versionsOn(key),
        (all) => all.every((value) => value?.version === last),
      );
      expect(values.map((value) => value?.version)).toEqual([last, last, last]);
    }
  });

  it("ignores a change delivered out of order, and counts a duplicate delivery once", async () => {
    const key = `order-${uniqueId()}`;
    const first = await put(key, "first", "all");
    const second = await put(key, "second", "all");
    await eventually(
      () => changes(key),
      (n) => n === 2,
    );
    const queueUrl = cloud!.queueUrl("Outbox/Queue");
    // The older change again, and the newer one again, each as a new message (a relay that re-sent them
    // after the queue's deduplication window).
    for (const [answer, value] of [
      [first, "first"],
      [second, "second"],
      [second, "second"],
    ] as const) {
      await cloud!.sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ key, version: answer.body.version, value }),
          MessageGroupId: key,
          MessageDeduplicationId: uniqueId(),
        }),
      );
    }
    // A last message in the same group, for another key: once it is applied, FIFO order says the three
    // before it were processed.
    const marker = `marker-${uniqueId()}`;
    await cloud!.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({ key: marker, version: second.body.version, value: "marker" }),
        MessageGroupId: key,
        MessageDeduplicationId: uniqueId(),
      }),
    );
    await eventually(
      () => changes(marker),
      (n) => n === 1,
    );
    expect((await versionsOn(key)).map((value) => value?.value)).toEqual(["second", "second", "second"]);
    expect(await changes(key)).toBe(2);
  });

  it("quarantines a poison outbox record with its content, moves on, and replays it once fixed", async () => {
    const key = `poison-${uniqueId()}`;
    const outbox = cloud!.tableName("Outbox/OutboxTable");
    const quarantine = cloud!.tableName("Outbox/QuarantineTable");
    // An outbox record no relay can send: its payload is not a change message.
    await cloud!.documents.send(
      new PutCommand({
        TableName: outbox,
        Item: { id: `poison-${uniqueId()}`, key, version: "x", payload: "{" },
      }),
    );
    const after = await put(key, "after", "primary");
    await eventually(
      () => changes(key),
      (n) => n === 1,
    );
    const { ScanCommand, UpdateCommand } = await import("@aws-sdk/lib-dynamodb");
    const quarantined = await eventually(
      async () => (await cloud!.documents.send(new ScanCommand({ TableName: quarantine }))).Items ?? [],
      (items) => items.some((item) => String(item.image).includes(key)),
    );
    const item = quarantined.find((candidate) => String(candidate.image).includes(key))!;
    expect(item.reason).toMatch(/not an outbox record/);
    expect(JSON.parse(item.image as string).payload).toEqual({ S: "{" });
    // The functions' metrics say so (the embedded metric format lines CloudWatch reads on AWS).
    const metrics = async () =>
      (
        (await (await fetch(`${cloud!.lambdaEndpoint}/_local/metrics`)).json()) as {
          metrics: Array<{ name: string; functionId: string; sum: number; count: number }>;
        }
      ).metrics;
    const total = (all: Awaited<ReturnType<typeof metrics>>, name: string) =>
      all.filter((metric) => metric.name === name).reduce((sum, metric) => sum + metric.sum, 0);
    const emitted = await eventually(
      metrics,
      (all) => total(all, "RelayQuarantined") >= 1 && total(all, "ReplicaApplied") >= 2,
    );
    expect(emitted.find((metric) => metric.name === "RelayQuarantined")?.functionId).toBe(
      "Coordination-Outbox-Relay",
    );
    expect(total(emitted, "RelaySent")).toBeGreaterThanOrEqual(1);
    // The write reached the two other replicas through the queue (the primary had it: a duplicate).
    expect(total(emitted, "ReplicaApplied")).toBeGreaterThanOrEqual(2);
    expect(total(emitted, "ReplicaDuplicate")).toBeGreaterThanOrEqual(1);
    expect(emitted.some((metric) => metric.name === "ReplicationLag" && metric.count >= 1)).toBe(true);

    // An operator fixes the record in the quarantine, then runs the replay.
    const fixed = { key, version: "000000000000001.000000", value: "fixed" };
    const image = JSON.parse(item.image as string);
    image.version = { S: fixed.version };
    image.payload = { S: JSON.stringify(fixed) };
    await cloud!.documents.send(
      new UpdateCommand({
        TableName: quarantine,
        Key: { sequenceNumber: item.sequenceNumber },
        UpdateExpression: "SET image = :image",
        ExpressionAttributeValues: { ":image": JSON.stringify(image) },
      }),
    );
    const replay = await invoke("Outbox-Replay");
    expect(replay.quarantined.replayed).toBeGreaterThanOrEqual(1);
    // The replayed change is older than the key's write: counted, not applied.
    expect(
      await eventually(
        () => changes(key),
        (n) => n === 2,
      ),
    ).toBe(2);
    expect((await versionsOn(key)).map((value) => value?.version)).toEqual(Array(3).fill(after.body.version));
  });
});

describe("Idempotency-Key", () => {
  const idempotent = (key: string, value: unknown, idempotencyKey: string) =>
    callApiWithHeaders(
      target.baseUrl,
      "PUT",
      `/kv/${key}`,
      { value, consistency: "primary" },
      { "idempotency-key": idempotencyKey },
    );

  it("a PUT retried after a lost answer commits once, is counted once, and answers the first outcome", async () => {
    const key = `idem-${uniqueId()}`;
    const idempotencyKey = `k-${uniqueId()}`;
    // The client gives up on the first request before its answer arrives (the answer is lost).
    const aborted = new AbortController();
    const first = target
      .fetch(`${target.baseUrl}/kv/${key}`, {
        method: "PUT",
        headers: { "idempotency-key": idempotencyKey },
        body: JSON.stringify({ value: { n: 1 }, consistency: "primary" }),
        signal: aborted.signal,
      })
      .catch(() => "aborted");
    setTimeout(() => aborted.abort(), 5);
    expect(await first).toBe("aborted");
    // The retry: the first request's outcome, however far the first got (409 while it still runs).
    const retry = await eventually(
      () => idempotent(key, { n: 1 }, idempotencyKey),
      (answer) => answer.status !== 409,
      20_000,
      50,
    );
    expect(retry.status).toBe(200);
    const again = await idempotent(key, { n: 1 }, idempotencyKey);
    expect(again).toMatchObject({ status: 200, body: retry.body });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    // One change: one version on every replica, counted once.
    await eventually(
      async () => ({ versions: await versionsOn(key), counted: await changes(key) }),
      ({ versions, counted }) =>
        versions.every((value) => value?.version === retry.body.version) && counted === 1,
      20_000,
      50,
    );
    // A later write moves the key on; the counter counted exactly two changes, never the retry.
    await put(key, { n: 2 }, "all");
    await eventually(
      () => changes(key),
      (counted) => counted === 2,
      20_000,
      50,
    );
  });

  it("answers 422 for the same key with another request, and 400 for a malformed key; neither writes", async () => {
    const key = `idem-${uniqueId()}`;
    const idempotencyKey = `k-${uniqueId()}`;
    expect((await idempotent(key, "a", idempotencyKey)).status).toBe(200);
    expect(await idempotent(key, "b", idempotencyKey)).toMatchObject({
      status: 422,
      body: { error: { code: "IdempotencyKeyReused" } },
    });
    expect(await idempotent(key, "c", "bad key with spaces")).toMatchObject({
      status: 400,
      body: { error: { code: "InvalidIdempotencyKey" } },
    });
    expect((await call("GET", `/kv/${key}`)).body.value).toBe("a");
  });
});

describe("every key and value the API accepts", () => {
  it("a 200-character key and a value with every character class JSON can hold reach every replica exactly", async () => {
    const key = `${"k".repeat(180)}-${uniqueId()}`.slice(0, 200).padEnd(200, "x");
    expect(key).toHaveLength(200);
    // Raw JSON text, so lone surrogates, controls and the two characters SQS refuses go over the wire.
    const text =
      '{"value":{"controls":"\\u0000\\u0001\\t\\n\\u001f\\u007f","bmp":"é中\\ud7ff\\ue000","sqsRefuses":"\\ufffe\\uffff",' +
      '"loneSurrogates":"\\ud800 \\udfff","astral":"😀\\ud83d\\ude00","quotes":"\\"\\\\/","numbers":[0,-0.5,1e300,9007199254740991],' +
      '"nested":[[[{"a":null,"b":true}]]]},"consistency":"primary"}';
    const response = await target.fetch(`${target.baseUrl}/kv/${key}`, { method: "PUT", body: text });
    expect(response.status).toBe(200);
    const { version } = (await response.json()) as { version: string };
    const expected = JSON.parse(text).value;
    await eventually(
      () => versionsOn(key),
      (values) => values.every((value) => value?.version === version),
      20_000,
      50,
    );
    for (const replica of REPLICAS) expect((await readReplica(key, replica))?.value).toEqual(expected);
    await eventually(
      () => changes(key),
      (counted) => counted === 1,
      20_000,
      50,
    );
  });
});

describe("a body whose bytes are not UTF-8", () => {
  // `{"value":"A<FF FE C3>Z",...}`: bytes UTF-8 never has, and a lead byte without its continuation.
  const bytes = () =>
    Buffer.concat([
      Buffer.from('{"value":"A'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('Z","consistency":"all"}'),
    ]);

  it("sent as bytes (a binary content type) is refused with 400 and writes nothing", async () => {
    const key = `bytes-${uniqueId()}`;
    for (const type of ["application/octet-stream", "application/x-protobuf"]) {
      const response = await target.fetch(`${target.baseUrl}/kv/${key}`, {
        method: "PUT",
        headers: { "content-type": type },
        body: new Uint8Array(bytes()),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as Json).error.code).toBe("InvalidEncoding");
    }
    expect((await call("GET", `/kv/${key}`)).status).toBe(404);
  });

  it("sent as JSON text is decoded by API Gateway before the function runs: each bad sequence is U+FFFD", async () => {
    const key = `text-${uniqueId()}`;
    const response = await target.fetch(`${target.baseUrl}/kv/${key}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: new Uint8Array(bytes()),
    });
    expect(response.status).toBe(200);
    const { version } = (await response.json()) as { version: string };
    await eventually(
      () => versionsOn(key),
      (values) => values.every((value) => value?.version === version),
      20_000,
      50,
    );
    for (const replica of REPLICAS)
      expect((await readReplica(key, replica))?.value).toBe("A\uFFFD\uFFFD\uFFFDZ");
  });
});

let browser: Browser;
let page: Page;

/** The text of a row of a panel, as the page shows it now. */
const row = (panel: string, selector: string) => page.locator(`#${panel} ${selector}`).innerText();

/**
 * The console in a real browser (Debian's chromium, driven by playwright-core). The screenshot goes to
 * .local/console/console.png; with CONSOLE_SCREENSHOT=docs (npm run console:screenshot) it replaces
 * docs/console.png, the README's picture.
 */
describe.runIf(!process.env.E2E_BASE_URL)("the console (local cloud, real browser)", () => {
  const key = `console-${uniqueId()}`;
  beforeAll(async () => {
    if (!CHROMIUM) throw new Error("no chromium: apt-get install chromium, or set CHROMIUM_PATH");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  });
  afterAll(() => browser?.close());

  it("shows a replica faulted from the page, the all-write's 503, and the replicas converging after the reset", async () => {
    const client = new ApiClient({ endpoint: target.baseUrl, fetch: target.fetch, maxAttempts: 2 });
    await client.kv.put(key, { step: 1 }, "all");
    await page.goto(`${target.baseUrl}/_console?kv=${key}&paxos=${key}`);
    await waitFor(() => page.locator("#convergence").innerText(), /replicas converged/);

    // Fault Replica3 from the page.
    await page.selectOption('select[data-fault="Coordination-Replica3"]', "error");
    await waitFor(() => row("replication", 'tr[data-replica="Replica3"]'), /down \(error\)/);
    await waitFor(() => row("functions", 'tr[data-function="Coordination-Replica3"]'), /down \(error\)/);

    // An all-write through the typed client: committed on the primary, Replica3 missing, 503.
    const failed = await client.kv.put(key, { step: 2 }, "all").catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(UnknownOutcomeError);
    expect(failed).toMatchObject({
      status: 503,
      code: "ReplicaUnavailable",
      details: { missing: ["Replica3"] },
    });
    await waitFor(
      () => page.locator("#requests").innerText(),
      new RegExp(`PUT /kv/${key}\\s+503 ReplicaUnavailable`),
    );
    await waitFor(() => page.locator("#convergence").innerText(), /Replica3 behind/);
    const stale = await row("replication", 'tr[data-replica="Replica3"]');
    expect(stale).toMatch(/behind/);

    // Reset from the page. Replica3 catches up by a read with consistency=all (read repair) or by the
    // queue's redelivery of the change (1 s after the failed delivery), whichever comes first; the read
    // answers step 2 either way. (Read repair alone is tested above, with the Replicator held off.)
    await page.selectOption('select[data-fault="Coordination-Replica3"]', "none");
    await waitFor(() => row("replication", 'tr[data-replica="Replica3"]'), /\bup\b/);
    const read = await client.kv.get(key, { consistency: "all" });
    expect(read.value).toEqual({ step: 2 });
    expect([[], ["Replica3"]]).toContainEqual(read.repaired);
    await waitFor(() => page.locator("#convergence").innerText(), /replicas converged/);
    const versions = await page.locator("#replication tr[data-replica] td:nth-child(3)").allInnerTexts();
    expect(versions).toHaveLength(3);
    expect(new Set(versions).size).toBe(1);

    // The Paxos, lease and mesh panels follow a register write, a server's heartbeat and a lookup.
    await client.paxos.set(key, { mode: "on" });
    await waitFor(() => page.locator("#paxos").innerText(), /1\s+\{"mode":"on"\}[\s\S]*1\s+\{"mode":"on"\}/);
    const server = `game-${key}`;
    await client.servers.heartbeat(server);
    const session = await client.sessions.lookup(`match-${key}`);
    expect(session.serverId).toBe(server);
    await waitFor(
      () => page.locator("#leases").innerText(),
      new RegExp(`${server}\\s+live[\\s\\S]*match-${key} #1`),
    );
    await waitFor(() => page.locator("#mesh").innerText(), new RegExp(server));

    // Every function's row is whole on a laptop's screen, its logs column included: nothing scrolled away.
    const functions = await page
      .locator("#functions")
      .evaluate((section) => ({ scroll: section.scrollWidth, client: section.clientWidth }));
    expect(functions.scroll).toBeLessThanOrEqual(functions.client);

    const docs = process.env.CONSOLE_SCREENSHOT === "docs";
    mkdirSync(fromRoot(".local/console"), { recursive: true });
    await page.screenshot({
      path: fromRoot(docs ? "docs/console.png" : ".local/console/console.png"),
      fullPage: true,
    });
  }, 90_000);
});
