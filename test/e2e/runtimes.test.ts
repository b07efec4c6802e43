/**
 * Functions on runtimes other than Node.js, run as Lambda runs them: a process per execution environment
 * on Lambda's Runtime API. A Python 3.12 function behind an HTTP API on the machine's Debian Python and
 * its older boto3 (which ignores AWS_ENDPOINT_URL_*), and a provided.al2023 function whose bootstrap is
 * a shell script.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, runStart } from "../support/app-process.ts";
import type { Json } from "../support/http.ts";

const DEBIAN_PYTHON = "/usr/bin/python3";

const json = async (response: Response): Promise<{ status: number; body: Json }> => ({
  status: response.status,
  body: await response.json(),
});

const lambdaOf = (app: AppProcess) =>
  new LambdaClient({
    region: LOCAL_REGION,
    endpoint: app.lambdaUrl,
    credentials: localCredentials("local"),
    maxAttempts: 1,
  });

const invoke = async (client: LambdaClient, name: string, event: unknown) => {
  const answer = await client.send(
    new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }),
  );
  return {
    functionError: answer.FunctionError,
    payload: JSON.parse(Buffer.from(answer.Payload ?? []).toString("utf8") || "null") as Json,
  };
};

describe("a Python 3.12 function behind an HTTP API, writing DynamoDB through boto3", () => {
  let app: AppProcess;
  let base: string;
  beforeAll(async () => {
    app = await runStart(["--app", "test/fixtures/python-api"], 120_000, {
      env: { LOCAL_CLOUD_PYTHON: DEBIAN_PYTHON },
      quiet: false,
    });
    base = app.outputs.NotesApiUrl!;
  }, 150_000);
  afterAll(() => app?.stop());

  it("writes and reads a note in DynamoDB Local, with a boto3 that ignores AWS_ENDPOINT_URL_*", async () => {
    const written = await fetch(`${base}/notes/first`, {
      method: "PUT",
      body: JSON.stringify({ text: "hi" }),
    });
    expect(await json(written)).toEqual({ status: 200, body: { id: "first", text: "hi" } });
    expect(await json(await fetch(`${base}/notes/first`))).toEqual({
      status: 200,
      body: { id: "first", text: "hi" },
    });
    expect(await json(await fetch(`${base}/notes/missing`))).toEqual({
      status: 404,
      body: { message: "no note missing" },
    });
  });

  it("gives the handler Lambda's context, its environment and a trace id", async () => {
    const response = await fetch(`${base}/whoami`);
    const { status, body } = await json(response);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      greeting: "hello from python",
      functionName: expect.stringMatching(/^PythonNotes-NotesFunction/),
      arn: expect.stringMatching(/^arn:aws:lambda:[^:]+:\d{12}:function:PythonNotes-NotesFunction/),
      memory: 256,
      apiRequestId: response.headers.get("apigw-requestid"),
      traceId: expect.stringMatching(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};/),
    });
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.requestId).not.toBe(body.apiRequestId);
    expect(body.remainingMs).toBeGreaterThan(0);
    expect(body.remainingMs).toBeLessThanOrEqual(5000);
  });

  it("answers a handler's exception with 500, and the Lambda API names it as Lambda does", async () => {
    expect((await fetch(`${base}/fail`)).status).toBe(500);
    const { functionError, payload } = await invoke(lambdaOf(app), "NotesFunction", {
      rawPath: "/fail",
      requestContext: { http: { method: "GET" } },
    });
    expect(functionError).toBe("Unhandled");
    expect(payload).toMatchObject({ errorType: "ValueError", errorMessage: "this route always fails" });
  });

  it("prefixes the function's output with its id and warns that it runs on another Python", () => {
    expect(app.output()).toContain("[NotesFunction] PUT /notes/first");
    expect(app.output()).toContain("[NotesFunction] [ERROR] ValueError: this route always fails");
    expect(app.output()).toMatch(
      /warning: NotesFunction deploys to Lambda's python3\.12 but runs here on Python 3\.\d+ \(\/usr\/bin\/python3\)/,
    );
    expect(app.skipped).toEqual([]);
  });
});

describe("a custom runtime (provided.al2023) whose bootstrap is a shell script", () => {
  let app: AppProcess;
  let base: string;
  beforeAll(async () => {
    app = await runStart(["--app", "test/fixtures/custom-runtime"], 120_000, { quiet: false });
    base = app.outputs.ShoutApiUrl!;
  }, 150_000);
  afterAll(() => app?.stop());

  it("hands the event and Lambda's headers to the bootstrap and returns what it posts", async () => {
    const before = Date.now();
    const { status, body } = await json(await fetch(`${base}/hello`));
    expect(status).toBe(200);
    expect(body).toMatchObject({
      word: "HELLO!",
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      arn: expect.stringMatching(/:function:CustomRuntime-Shout/),
      trace: expect.stringMatching(/^Root=1-/),
    });
    // The deadline is the function's 2 s timeout from the invocation's start.
    expect(body.deadlineMs).toBeGreaterThanOrEqual(before + 2000);
    expect(body.deadlineMs).toBeLessThanOrEqual(Date.now() + 2000);
    expect(app.output()).toMatch(/\[Shout\] invocation [0-9a-f-]{36} for \/hello/);
  });

  it("reports an error the runtime posts, with its type", async () => {
    expect((await fetch(`${base}/fail`)).status).toBe(500);
    const { functionError, payload } = await invoke(lambdaOf(app), app.outputs.ShoutFunctionName!, {
      rawPath: "/fail",
    });
    expect(functionError).toBe("Unhandled");
    expect(payload).toMatchObject({ errorType: "Shout.Failed", errorMessage: "asked to fail" });
  });

  it("times out an invocation that outruns the function's timeout, and keeps answering", async () => {
    const pidOf = async (word: string) => ((await json(await fetch(`${base}/${word}`))).body as Json).pid;
    const { functionError, payload } = await invoke(lambdaOf(app), app.outputs.ShoutFunctionName!, {
      rawPath: "/sleep",
    });
    expect(functionError).toBe("Unhandled");
    expect(payload).toMatchObject({ errorType: "Sandbox.Timedout" });
    // The timed-out environment is ended (its bootstrap killed); new ones take the next invocations.
    const pids = await Promise.all(["a", "b", "c"].map(pidOf));
    for (const pid of pids) expect(pid).toEqual(expect.any(Number));
  });
});
