/**
 * A user's app proves the packages: examples/orders, copied to a fresh directory under the system's
 * temporary directory, with the packages installed only from their packed tarballs (never the
 * workspace's links), run on the local cloud installed the same way. An order write publishes exactly
 * one message, applied once; a duplicate delivery of it is applied once; an order written twice is
 * refused and publishes nothing; the register answers a compare-and-set. Loopback only.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";
import { type AppProcess, runStart } from "../support/app-process.ts";
import { eventually } from "../support/local-cloud.ts";
import { pack, strictTsconfig, TSC, tarballFiles, undeclaredImports } from "../support/packages.ts";

let dir: string;
let project: string;
let cdkTarball: string;
let app: AppProcess;
let documents: DynamoDBDocumentClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "example-orders-"));
  const tarballs = pack(dir, [
    "@serverless-coordination/core",
    "@serverless-coordination/cdk",
    "@serverless-coordination/local-cloud",
  ]);
  cdkTarball = tarballs[1]!;
  project = join(dir, "orders");
  cpSync(fromRoot("examples/orders"), project, {
    recursive: true,
    filter: (path) => !path.includes("node_modules"),
  });
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs], {
    cwd: project,
    stdio: ["ignore", "pipe", "pipe"],
  });
  app = await runStart([], 240_000, {
    bin: join(project, "node_modules", ".bin", "local-cloud"),
    cwd: project,
    // A start from a new install begins a class archive of DynamoDB Local that outlives it, by design.
    env: { SC_DYNAMODB_CLASS_ARCHIVE: "off" },
  });
  documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: app.dynamodbUrl,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }),
  );
}, 600_000);
afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const api = (path: string, method: string, body?: unknown) =>
  fetch(`${app.outputs.ApiUrl}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const tableOf = (prefix: string) => {
  const name = app.output().match(new RegExp(`^  (\\S*${prefix}\\S*)`, "m"))?.[1];
  expect(name, prefix).toBeDefined();
  return name!;
};
const scan = async (table: string) =>
  (await documents.send(new ScanCommand({ TableName: table }))).Items ?? [];
const charges = async (order: string) =>
  (await documents.send(new GetCommand({ TableName: app.outputs.BillingTableName, Key: { pk: order } })))
    .Item;

describe("the cdk package, as the example installed it from its tarball", () => {
  it("holds its compiled constructs and pre-built handlers, and nothing else", () => {
    const files = tarballFiles(cdkTarball);
    for (const file of files)
      expect(file).toMatch(
        /^(dist\/.+\.(js|d\.ts)|dist\/handlers\/[a-z-]+\/index\.mjs(\.map)?|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/,
      );
    for (const handler of ["api", "replica", "replicator", "relay", "outbox-replay", "acceptor"])
      expect(files).toContain(`dist/handlers/${handler}/index.mjs`);
  });

  it("imports only its own files and what it declares; its entry point loads in plain Node and type-checks strictly", () => {
    const installed = join(project, "node_modules", "@serverless-coordination", "cdk");
    // The handler bundles leave only the AWS SDK v3 to Lambda's runtime, which provides it.
    const fromRuntime = (line: string) => /^dist\/handlers\/[a-z-]+\/index\.mjs: @aws-sdk\//.test(line);
    const undeclared = undeclaredImports(installed);
    expect(undeclared.filter((line) => !fromRuntime(line))).toEqual([]);
    expect(undeclared.length).toBeGreaterThan(0);
    const load = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'const m = await import("@serverless-coordination/cdk"); console.log(Object.keys(m).sort().join(" "));',
      ],
      { cwd: project, encoding: "utf8", timeout: 60_000 },
    );
    expect(load.stderr).toBe("");
    expect(load.stdout.trim()).toBe(
      "CoordinationApi IdempotentConsumer LeaseLookup PaxosRegister TransactionalOutbox",
    );
    writeFileSync(
      join(project, "entries.ts"),
      'import { CoordinationApi } from "@serverless-coordination/cdk";\nexport type Props = ConstructorParameters<typeof CoordinationApi>[2];\n',
    );
    writeFileSync(join(project, "tsconfig.strict.json"), strictTsconfig(["entries.ts"]));
    const tsc = spawnSync(process.execPath, [TSC, "-p", "tsconfig.strict.json"], {
      cwd: project,
      encoding: "utf8",
      timeout: 240_000,
    });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  }, 300_000);
});

describe("the orders example, installed from the packed packages", () => {
  it("is under 80 lines of CDK", () => {
    expect(
      readFileSync(fromRoot("examples/orders/app.ts"), "utf8").trimEnd().split("\n").length,
    ).toBeLessThan(80);
  });

  it("an order write publishes exactly one message, applied once; writing it again publishes nothing", async () => {
    const created = await api("/orders/o-1", "POST", { amount: 30 });
    expect(created.status).toBe(201);
    const applied = await eventually(
      () => charges("o-1"),
      (item) => item !== undefined,
      60_000,
    );
    expect(applied).toMatchObject({ charges: 1, charged: 30 });
    expect((await api("/orders/o-1", "POST", { amount: 99 })).status).toBe(409);
    // One outbox record, one claim (one message consumed); nothing more comes.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await scan(tableOf("OutboxOutboxTable"))).toHaveLength(1);
    expect(await scan(tableOf("BillingClaimTable"))).toHaveLength(1);
    expect(await charges("o-1")).toMatchObject({ charges: 1, charged: 30 });
  }, 90_000);

  it("a duplicate delivery of the message is applied once", async () => {
    const [record] = (await scan(tableOf("OutboxOutboxTable"))) as Array<{ id: string; payload: string }>;
    const duplicate = {
      Records: [
        {
          messageId: "redelivered-1",
          receiptHandle: "redelivered-1",
          body: record!.payload,
          attributes: {
            MessageGroupId: "o-1",
            MessageDeduplicationId: record!.id,
            ApproximateReceiveCount: "2",
          },
          messageAttributes: {},
          md5OfBody: "",
          eventSource: "aws:sqs",
          eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:duplicate",
          awsRegion: "us-east-1",
        },
      ],
    };
    const invoked = await fetch(
      `${app.lambdaUrl}/2015-03-31/functions/${app.outputs.BillerName}/invocations`,
      {
        method: "POST",
        body: JSON.stringify(duplicate),
      },
    );
    expect(invoked.status).toBe(200);
    expect(await invoked.json()).toEqual({ batchItemFailures: [] });
    expect(await charges("o-1")).toMatchObject({ charges: 1, charged: 30 });
  }, 60_000);

  it("the register answers a compare-and-set", async () => {
    const first = await api("/config", "PUT", { value: { tax: 0.2 }, ifVersion: 0 });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ version: 1 });
    const second = await api("/config", "PUT", { value: { tax: 0.25 }, ifVersion: 1 });
    expect(await second.json()).toMatchObject({ version: 2 });
    const stale = await api("/config", "PUT", { value: { tax: 0.3 }, ifVersion: 1 });
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ error: { code: "VersionConflict" } });
    expect(await (await api("/config", "GET")).json()).toMatchObject({ value: { tax: 0.25 }, version: 2 });
  }, 60_000);
});
