/**
 * The local cloud itself, through a fixture stack that uses every wiring type: HTTP routes, the Lambda
 * Invoke API, DynamoDB stream and SQS event source mappings, and fault injection. Runs against the real
 * DynamoDB Local and SQS emulator started by the global setup.
 */
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildWiringStack } from "../fixtures/wiring/stack.ts";
import { readJson } from "../support/http.ts";
import { eventually, startTestCloud, type TestCloud } from "../support/local-cloud.ts";

let cloud: TestCloud;
let lambda: LambdaClient;
/** What the local cloud logged (its own lines, not the functions'). */
const logged: string[] = [];

beforeAll(async () => {
  cloud = await startTestCloud((app) => buildWiringStack(app), {
    log: (line) => {
      logged.push(line);
      console.error(line);
    },
  });
  lambda = new LambdaClient({
    region: LOCAL_REGION,
    endpoint: cloud.lambdaEndpoint,
    credentials: localCredentials(cloud.accessKeyId),
    maxAttempts: 1,
  });
});

afterAll(async () => {
  lambda?.destroy();
  await cloud?.stop();
});

async function deliveries(id: string) {
  const result = await cloud.documents.send(
    new QueryCommand({
      TableName: cloud.tableName("Deliveries"),
      KeyConditionExpression: "id = :id",
      ExpressionAttributeValues: { ":id": id },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

async function receiveAll(queueUrl: string, waitMs: number) {
  const bodies: string[] = [];
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const response = await cloud.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of response.Messages ?? []) bodies.push(message.Body ?? "");
  }
  return bodies;
}

const invokeEcho = (functionName: string) =>
  lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      Payload: Buffer.from(JSON.stringify({ routeKey: "direct" })),
    }),
  );

describe("HTTP API routes", () => {
  it("passes path parameters, query and body in a payload 2.0 event and maps the result", async () => {
    const get = await fetch(`${cloud.apiUrl}/items/abc%3A1?color=red&color=blue`);
    expect(get.status).toBe(200);
    expect(get.headers.get("x-environment")).toBeTruthy();
    const echoed = await readJson(get);
    expect(echoed).toMatchObject({
      routeKey: "GET /items/{itemId}",
      pathParameters: { itemId: "abc:1" },
      query: { color: "red,blue" },
    });

    const post = await fetch(`${cloud.apiUrl}/items/a/notes/b`, {
      method: "POST",
      body: JSON.stringify({ n: 1 }),
    });
    expect(await readJson(post)).toMatchObject({
      routeKey: "POST /items/{itemId}/notes/{noteId}",
      pathParameters: { itemId: "a", noteId: "b" },
      body: { n: 1 },
    });
  });

  it("runs a function on plain Node.js: none of the hosting process's flags or loaders reach it", async () => {
    // This test process runs with flags of its own (vitest's --conditions, --require); an app run under a
    // TypeScript loader such as tsx would pass that on too, and it hooks every import of a bundle.
    expect(process.execArgv.length).toBeGreaterThan(0);
    expect((await fetch(`${cloud.apiUrl}/items/flags`).then(readJson)).execArgv).toEqual([]);
  });

  it("answers 404 for a route the template does not have", async () => {
    expect((await fetch(`${cloud.apiUrl}/nothing-here`)).status).toBe(404);
    expect((await fetch(`${cloud.apiUrl}/items/abc`, { method: "DELETE" })).status).toBe(404);
  });

  it("runs one invocation at a time per environment and reuses warm environments", async () => {
    const [a, b] = await Promise.all([
      fetch(`${cloud.apiUrl}/items/x?sleepMs=300`).then(readJson),
      fetch(`${cloud.apiUrl}/items/y?sleepMs=300`).then(readJson),
    ]);
    expect(a.environmentId).not.toBe(b.environmentId);
    const next = await fetch(`${cloud.apiUrl}/items/z`).then(readJson);
    expect([a.environmentId, b.environmentId]).toContain(next.environmentId);
  });

  it("times a function out after the template's timeout with a 500, and replaces its environment", async () => {
    const started = Date.now();
    const response = await fetch(`${cloud.apiUrl}/items/slow?sleepMs=5000`);
    expect(response.status).toBe(500);
    expect(Date.now() - started).toBeLessThan(4500);
    expect((await fetch(`${cloud.apiUrl}/items/after`)).status).toBe(200);
  });
});

describe("limits AWS enforces", () => {
  /** Streams 50 MB at a route; answers the status and how much was written when the answer came. */
  const upload = async (headers: Record<string, string>) => {
    const { request } = await import("node:http");
    const url = new URL(`${cloud.apiUrl}/items/a/notes/b`);
    let written = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const sending = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
          sending.destroy();
        },
      );
      sending.on("error", reject);
      const chunk = Buffer.alloc(1024 * 1024, 97);
      const pump = () => {
        while (written < 50 * 1024 * 1024 && !sending.destroyed) {
          written += chunk.length;
          if (!sending.write(chunk)) return sending.once("drain", pump);
        }
        sending.end();
      };
      pump();
      setTimeout(() => reject(new Error(`no answer after ${written} bytes`)), 20_000).unref();
    });
    return { status, written };
  };

  it("refuses a body over API Gateway's 10 MB with 413 before reading it all, and serves the next request", async () => {
    // Streamed without a length: refused once 10 MB have come in.
    const streamed = await upload({ "transfer-encoding": "chunked" });
    expect(streamed.status).toBe(413);
    expect(streamed.written).toBeLessThan(30 * 1024 * 1024);
    // Announced by Content-Length: refused before any of it is read.
    const announced = await upload({ "content-length": String(50 * 1024 * 1024) });
    expect(announced.status).toBe(413);
    expect(announced.written).toBeLessThan(30 * 1024 * 1024);
    expect((await fetch(`${cloud.apiUrl}/items/after`)).status).toBe(200);
  }, 60_000);

  it("answers 400 for malformed percent-encoding in a path", async () => {
    const response = await fetch(`${cloud.apiUrl}/items/%E0%A4%A`);
    expect(response.status).toBe(400);
    expect((await fetch(`${cloud.apiUrl}/items/ok`)).status).toBe(200);
  });

  it("refuses an Invoke payload over Lambda's 6 MB with RequestEntityTooLargeException", async () => {
    const response = await fetch(`${cloud.lambdaEndpoint}/2015-03-31/functions/Echo/invocations`, {
      method: "POST",
      body: JSON.stringify({ big: "x".repeat(6 * 1024 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("x-amzn-errortype")).toBe("RequestEntityTooLargeException");
  });

  it("hands a 10,000-level event to its function and leaves no timer behind to hit the next invocation", async () => {
    const deep = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
    const first = await fetch(`${cloud.lambdaEndpoint}/2015-03-31/functions/Echo/invocations`, {
      method: "POST",
      body: deep,
    });
    expect(first.status).toBeLessThan(500);
    await first.arrayBuffer();
    // Longer than what is left of Echo's 2 s timeout after the first invocation, in the environment it
    // used: a timer left armed by the first would discard this environment mid-invocation.
    const next = await fetch(`${cloud.apiUrl}/items/after?sleepMs=1900`);
    expect(next.status).toBe(200);
  }, 15_000);
});

describe("Lambda Invoke API", () => {
  it("lets one function invoke another through the unchanged SDK client", async () => {
    const response = await fetch(`${cloud.apiUrl}/call`, { method: "POST", body: "{}" });
    expect(response.status).toBe(200);
    const result = await readJson(response);
    expect(result.invokeStatus).toBe(200);
    expect(result.functionError).toBeNull();
    expect(JSON.parse(result.payload.body)).toMatchObject({
      routeKey: "invoked",
      pathParameters: { via: "lambda" },
    });
  });

  it("answers ResourceNotFoundException for an unknown function", async () => {
    await expect(invokeEcho("NoSuchFunction")).rejects.toBeInstanceOf(ResourceNotFoundException);
    const viaCaller = await fetch(`${cloud.apiUrl}/call`, {
      method: "POST",
      body: JSON.stringify({ functionName: "NoSuchFunction" }),
    }).then(readJson);
    expect(viaCaller.functionError).toBe("ResourceNotFoundException");
  });

  it("accepts Event invocations with 202, and logs one that fails with the function and the error", async () => {
    const response = await lambda.send(
      new InvokeCommand({ FunctionName: "Echo", InvocationType: "Event", Payload: Buffer.from("{}") }),
    );
    expect(response.StatusCode).toBe(202);
    await cloud.fault("Echo", "error");
    try {
      await lambda.send(
        new InvokeCommand({ FunctionName: "Echo", InvocationType: "Event", Payload: Buffer.from("{}") }),
      );
      await eventually(
        async () => logged.filter((line) => line.includes("event invoke of Echo failed: InjectedFault")),
        (lines) => lines.length === 1,
      );
    } finally {
      await cloud.fault("Echo", "none");
    }
  });
});

describe("fault injection", () => {
  // Each test starts with Echo healthy, even after a test before it failed with Echo faulted.
  afterEach(() => cloud.fault("Echo", "none"));

  it("lists the functions by construct id", async () => {
    const listed = await fetch(`${cloud.lambdaEndpoint}/_local/functions`).then(readJson);
    expect(listed.functions.map((fn: { id: string }) => fn.id).sort()).toEqual(
      ["Caller", "Echo", "QueueConsumer", "StreamConsumer"].sort(),
    );
  });

  it("makes every invocation fail, then hang, until reset", async () => {
    const echo = cloud.functions.find((fn) => fn.id === "Echo")!;
    await cloud.fault("Echo", "error");
    expect((await fetch(`${cloud.apiUrl}/items/a`)).status).toBe(500);
    const failed = await invokeEcho(echo.name);
    expect(failed.FunctionError).toBe("Unhandled");
    expect(JSON.parse(Buffer.from(failed.Payload!).toString()).errorType).toBe("InjectedFault");

    await cloud.fault("Echo", "timeout");
    const started = Date.now();
    const hung = await invokeEcho(echo.arn);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(JSON.parse(Buffer.from(hung.Payload!).toString()).errorType).toBe("Sandbox.Timedout");

    await cloud.fault("Echo", "none");
    expect((await fetch(`${cloud.apiUrl}/items/a`)).status).toBe(200);
    expect((await invokeEcho("Echo")).FunctionError).toBeUndefined();
  });

  it("delivers every invocation late, by the delay plus up to the jitter, until reset", async () => {
    const echo = cloud.functions.find((fn) => fn.id === "Echo")!;
    await cloud.fault("Echo", "delay", { delayMs: 400, jitterMs: 100 });
    const listed = await fetch(`${cloud.lambdaEndpoint}/_local/functions`).then(readJson);
    expect(listed.functions.find((fn: { id: string }) => fn.id === "Echo")).toMatchObject({
      fault: "delay",
      delayMs: 400,
      jitterMs: 100,
    });
    const started = Date.now();
    const late = await invokeEcho(echo.name);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(late.FunctionError).toBeUndefined();
    expect(JSON.parse(Buffer.from(late.Payload!).toString()).statusCode).toBe(200);
    await cloud.fault("Echo", "none");
  });

  it("runs the function in full and then loses its reply: the caller gets an error", async () => {
    await cloud.fault("Echo", "lose-reply");
    // The handler sleeps 300 ms before answering: the error comes only after it ran.
    const started = Date.now();
    const lost = await fetch(`${cloud.apiUrl}/items/a?sleepMs=300`);
    expect(lost.status).toBe(500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    await cloud.fault("Echo", "none");
    expect((await fetch(`${cloud.apiUrl}/items/a`)).status).toBe(200);
  });

  it("rejects an unknown mode or function", async () => {
    const bad = await fetch(`${cloud.lambdaEndpoint}/_local/faults/Echo`, {
      method: "PUT",
      body: '{"mode":"x"}',
    });
    expect(bad.status).toBe(400);
    for (const body of [
      '{"mode":"delay"}',
      '{"mode":"delay","delayMs":-1}',
      '{"mode":"error","delayMs":5}',
    ]) {
      const refused = await fetch(`${cloud.lambdaEndpoint}/_local/faults/Echo`, { method: "PUT", body });
      expect(refused.status).toBe(400);
    }
    expect(cloud.functions.find((fn) => fn.id === "Echo")!.getFault()).toBe("none");
    const unknown = await fetch(`${cloud.lambdaEndpoint}/_local/faults/Nope`, {
      method: "PUT",
      body: '{"mode":"none"}',
    });
    expect(unknown.status).toBe(404);
  });
});

describe("DynamoDB stream mapping", () => {
  const put = (item: Record<string, string>) =>
    cloud.documents.send(new PutCommand({ TableName: cloud.tableName("Source"), Item: item }));

  it("retries a partial batch failure from the failed record only", async () => {
    for (const id of ["s1", "s2", "s3", "s4", "s5"]) await put(id === "s3" ? { id, fail: "once" } : { id });
    await eventually(
      () => deliveries("s5"),
      (items) => items.length >= 1,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const counts = await Promise.all(
      ["s1", "s2", "s3", "s4", "s5"].map(async (id) => (await deliveries(id)).length),
    );
    expect(counts).toEqual([1, 1, 2, 1, 1]);
    // Records carry the stack's region, as on AWS (DynamoDB Local's own streams say "ddblocal").
    expect((await deliveries("s1"))[0]!.region).toBe(LOCAL_REGION);
  });

  it("sends a record that always fails to the on-failure destination after the retry limit, then moves on", async () => {
    await put({ id: "p1", fail: "always" });
    await put({ id: "p2" });
    await eventually(
      () => deliveries("p2"),
      (items) => items.length >= 1,
    );
    expect(await deliveries("p2")).toHaveLength(1);
    // Alone, p1 is tried once plus MaximumRetryAttempts (2) retries; polled together with p2, the batch is
    // bisected first, and a split is not a retry.
    const attempts = (await deliveries("p1")).length;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(4);
    const failures = (await receiveAll(cloud.queueUrl("StreamFailures"), 1500)).map((body) =>
      JSON.parse(body),
    );
    expect(failures).toHaveLength(1);
    const sequence = (await deliveries("p1"))[0]!.sequence;
    expect(failures[0].requestContext.condition).toBe("RetryAttemptsExhausted");
    expect(failures[0].DDBStreamBatchInfo).toMatchObject({
      startSequenceNumber: sequence,
      endSequenceNumber: sequence,
      batchSize: 1,
    });
  });

  it("bisects a batch whose invocation errors until the poison record is alone", async () => {
    for (const id of ["b1", "b2", "b3", "b4"]) await put(id === "b3" ? { id, fail: "throw" } : { id });
    await eventually(
      async () => Promise.all(["b1", "b2", "b4"].map(async (id) => (await deliveries(id)).length)),
      (counts) => counts.every((count) => count >= 1),
    );
    const failures = (await receiveAll(cloud.queueUrl("StreamFailures"), 3000)).map((body) =>
      JSON.parse(body),
    );
    expect(failures).toHaveLength(1);
    const poison = (await deliveries("b3"))[0]!.sequence;
    expect(failures[0].DDBStreamBatchInfo).toMatchObject({ startSequenceNumber: poison, batchSize: 1 });
    // Every failed invocation said so in the log, with the function and the error.
    expect(logged.some((line) => /StreamConsumer.*Error.*b3/.test(line))).toBe(true);
  });
});

describe("SQS mapping", () => {
  const send = (body: Record<string, string>) =>
    cloud.sqs.send(
      new SendMessageCommand({ QueueUrl: cloud.queueUrl("Work"), MessageBody: JSON.stringify(body) }),
    );

  it("redelivers only the failed message, and moves one that keeps failing to the DLQ after maxReceiveCount", async () => {
    await send({ id: "q1" });
    await send({ id: "q2", fail: "once" });
    await send({ id: "q3", fail: "always" });
    await send({ id: "q4" });
    await eventually(
      () => deliveries("q2"),
      (items) => items.length === 2,
      20_000,
    );
    const dead = await eventually(
      () => receiveAll(cloud.queueUrl("WorkDlq"), 1000),
      (bodies) => bodies.length > 0,
      30_000,
      0,
    );
    expect(dead.map((body) => JSON.parse(body).id)).toEqual(["q3"]);
    expect(await deliveries("q1")).toHaveLength(1);
    expect(await deliveries("q4")).toHaveLength(1);
    expect(await deliveries("q2")).toHaveLength(2);
    // maxReceiveCount is 3: three receives, then the queue moves it aside.
    expect(await deliveries("q3")).toHaveLength(3);
    expect((await deliveries("q2")).map((item) => item.receiveCount).sort()).toEqual([1, 2]);
  });
});
