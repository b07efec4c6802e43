/**
 * Other people's CDK apps on the local cloud, run as a user would: `npm start -- --app <dir>` (and
 * `--assembly`, `--stack`) on the fixture apps of test/fixtures, each written for AWS and unmodified.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assemblyDirFor } from "@serverless-coordination/local-cloud";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, refusedStart, runStart } from "../support/app-process.ts";
import type { Json } from "../support/http.ts";
import { eventually } from "../support/local-cloud.ts";

const json = async (response: Response): Promise<{ status: number; body: Json }> => ({
  status: response.status,
  body: await response.json(),
});

describe("a REST API (v1) CRUD app with CORS, on the SDK that Lambda provides", () => {
  let app: AppProcess;
  let items: string;
  beforeAll(async () => {
    app = await runStart(["--app", "test/fixtures/rest-crud"]);
    items = app.outputs.ItemsUrl!;
  }, 120_000);
  afterAll(() => app?.stop());

  it("points the API's URL outputs at the local stage, path and all", () => {
    expect(items).toBe(`${app.apiUrl}/prod/items`);
    expect(Object.values(app.outputs)).toContain(`${app.apiUrl}/prod/`);
  });

  it("creates, lists, reads and deletes items through Lambda proxy integrations (payload 1.0)", async () => {
    const created = await fetch(items, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "apple", color: "red" }),
    });
    expect(await json(created)).toEqual({ status: 201, body: { id: "apple", color: "red" } });
    expect((await json(await fetch(items))).body.items).toEqual([{ id: "apple", color: "red" }]);
    expect(await json(await fetch(`${items}/apple`))).toEqual({
      status: 200,
      body: { id: "apple", color: "red" },
    });
    const deleted = await fetch(`${items}/apple`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    // A REST API names its request id in x-amzn-RequestId.
    expect(deleted.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/);
    expect(deleted.headers.get("apigw-requestid")).toBeNull();
    expect((await fetch(`${items}/apple`)).status).toBe(404);
    // The same API under its /restapis/{id}/{stage} path.
    const apiId = app.output().match(/\/restapis\/([^/]+)\/prod\/items /)?.[1];
    expect((await fetch(`${app.apiUrl}/restapis/${apiId}/prod/items`)).status).toBe(200);
  });

  it("ran its functions from an assembly outside any node_modules: the SDK came from the local cloud", () => {
    const assembly = assemblyDirFor("test/fixtures/rest-crud");
    expect(assembly.startsWith(tmpdir())).toBe(true);
    expect(existsSync(join(tmpdir(), "node_modules"))).toBe(false);
    expect(existsSync(join(assembly, "manifest.json"))).toBe(true);
  });

  it("answers CORS preflights from the mock integrations and a path it does not have with 403", async () => {
    const preflight = await fetch(items, {
      method: "OPTIONS",
      headers: { origin: "https://any.example", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    const missing = await fetch(`${app.apiUrl}/prod/nothing-here`);
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as Json).message).toBe("Missing Authentication Token");
  });
});

describe("an HTTP API (v2) app with CORS that sends to SQS by queue URL", () => {
  let app: AppProcess;
  let base: string;
  beforeAll(async () => {
    app = await runStart(["--app", "test/fixtures/queue-worker"]);
    base = app.outputs.JobsApiUrl!;
  }, 120_000);
  afterAll(() => app?.stop());

  it("answers preflights for allowed origins only, and adds CORS headers to answers", async () => {
    const allowed = await fetch(`${base}/jobs`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(allowed.headers.get("access-control-allow-methods")).toBe("GET,POST");
    expect(allowed.headers.get("access-control-max-age")).toBe("600");
    const refused = await fetch(`${base}/jobs`, {
      method: "OPTIONS",
      headers: { origin: "https://elsewhere.example", "access-control-request-method": "POST" },
    });
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("enqueues by URL, and the mapping runs at most maximumConcurrency batches at once", async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `job-${i}`);
    for (const id of ids) {
      const answer = await fetch(`${base}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: "https://app.example" },
        body: JSON.stringify({ id }),
      });
      expect(answer.status, await answer.clone().text()).toBe(202);
      expect(answer.headers.get("access-control-allow-origin")).toBe("https://app.example");
    }
    const answers = await eventually(
      () => Promise.all(ids.map(async (id) => json(await fetch(`${base}/jobs/${id}`)))),
      (all) => all.every((answer) => answer.status === 200),
      30_000,
    );
    const done = answers.map((answer) => answer.body);
    // The status route is payload 1.0: it saw the resource and the method as REST-style fields.
    expect(done[0]).toMatchObject({ status: "done", resource: "/jobs/{id}", method: "GET" });
    const edges = done
      .flatMap((job) => [
        [job.startedAt, 1],
        [job.endedAt, -1],
      ])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let running = 0;
    let most = 0;
    for (const [, change] of edges) {
      running += change;
      most = Math.max(most, running);
    }
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBe(2);
  });
});

describe("an app with parameters, mappings, conditions, inline code and what the local cloud does not run", () => {
  let app: AppProcess;
  beforeAll(async () => {
    app = await runStart(["--app", "test/fixtures/template-features", "--stack", "TemplateFeatures"]);
  }, 120_000);
  afterAll(() => app?.stop());

  it("runs the inline function with the parameter's default, the mapping's value and the condition's branch", async () => {
    const response = await fetch(app.outputs.HelloUrl!);
    // The request id the function saw is the one the answer names, as API Gateway's HTTP APIs do.
    const requestId = response.headers.get("apigw-requestid");
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const answer = await json(response);
    expect(answer).toEqual({
      status: 200,
      body: {
        greeting: "hello",
        mode: "development",
        memory: "256",
        topic: expect.stringMatching(/^arn:aws:sns:us-east-1:000000000000:TemplateFeatures-Alerts/),
        path: "/hello",
        requestId,
      },
    });
  });

  it("lists what it skipped and why, and started anyway", () => {
    expect(app.skipped).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^AuditTable\w+ \(AWS::DynamoDB::Table\): its condition IsProd is false/),
        expect.stringMatching(
          /^Alerts\w+ \(AWS::SNS::Subscription\): SNS https subscriptions are not emulated \(only sqs and lambda\): nothing is delivered to https:\/\/hooks\.example\.com\/alerts$/,
        ),
        expect.stringMatching(
          /^Report\w+ \(AWS::Lambda::Function\): runtime \(container image\) does not run locally/,
        ),
      ]),
    );
    expect(app.skipped).toHaveLength(3);
  });

  it("asks which stack to run when there are several, and says which there are", async () => {
    // The assembly the --app start above synthesized (no second synthesis).
    const refused = await refusedStart(["--assembly", assemblyDirFor("test/fixtures/template-features")]);
    expect(refused.code).toBe(2);
    expect(refused.output).toContain(
      "the assembly has 2 stacks (TemplateFeatures, Other): pick one with --stack",
    );
  }, 120_000);

  it("runs an assembly's inline code without writing into the assembly (the user's input)", async () => {
    // A user's cdk.out: a copy, so that what the local cloud writes beside it would show.
    const assembly = join(mkdtempSync(join(tmpdir(), "users-assembly-")), "cdk.out");
    cpSync(assemblyDirFor("test/fixtures/template-features"), assembly, { recursive: true });
    // Every file with its modification time: a file added or rewritten shows.
    const files = () =>
      readdirSync(assembly, { recursive: true })
        .map(String)
        .sort()
        .map((file) => `${file} ${statSync(join(assembly, file)).mtimeMs}`);
    const before = files();
    const started = await runStart(["--assembly", assembly, "--stack", "TemplateFeatures"]);
    try {
      const answer = await json(await fetch(started.outputs.HelloUrl!));
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ path: "/hello" });
    } finally {
      await started.stop();
    }
    expect(files()).toEqual(before);
    rmSync(assembly, { recursive: true, force: true });
  }, 120_000);

  it("runs an assembly already synthesized, picking its other stack", async () => {
    const assembly = assemblyDirFor("test/fixtures/template-features");
    const other = await runStart(["--assembly", assembly, "--stack", "Other"]);
    try {
      expect(other.output()).toMatch(
        /queues \(1\)\n {2}http:\/\/127\.0\.0\.1:\d+\/000000000000\/Other-Spare/,
      );
    } finally {
      await other.stop();
    }
  }, 120_000);
});
