/**
 * Clients nobody here wrote, of the older protocol generation, against the local cloud: Debian's AWS CLI
 * (/usr/bin/aws, 2.9) and boto3 (for /usr/bin/python3, 1.26), which speak SQS's query protocol. Each
 * sends, receives and deletes on a FIFO and a standard queue, writes and reads DynamoDB, and invokes and
 * lists functions; the SQS endpoint records what protocol each request arrived in. `.ci/run` installs
 * both when missing. Every endpoint is given explicitly, on 127.0.0.1.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { LOCAL_REGION } from "@serverless-coordination/local-cloud";
import { RemovalPolicy, Stack } from "aws-cdk-lib";
import { AttributeType, BillingMode, Table } from "aws-cdk-lib/aws-dynamodb";
import { Code, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type SqsRequestRecord, startSqsEmulator } from "../../packages/local-cloud/src/engines.ts";
import { startTestCloud, type TestCloud } from "../support/local-cloud.ts";

const AWS = "/usr/bin/aws";
const PYTHON = "/usr/bin/python3";
const run = promisify(execFile);

let sqs: Awaited<ReturnType<typeof startSqsEmulator>>;
let cloud: TestCloud;
const requests: SqsRequestRecord[] = [];
let env: Record<string, string>;
let work: string;

beforeAll(async () => {
  sqs = await startSqsEmulator({ onRequest: (record) => requests.push(record) });
  cloud = await startTestCloud(
    (app) => {
      const stack = new Stack(app, "ThirdParty");
      new Table(stack, "Items", {
        partitionKey: { name: "pk", type: AttributeType.STRING },
        billingMode: BillingMode.PAY_PER_REQUEST,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      new Queue(stack, "Orders", { fifo: true, contentBasedDeduplication: true });
      new Queue(stack, "Plain");
      new LambdaFunction(stack, "Echo", {
        runtime: Runtime.NODEJS_24_X,
        handler: "index.handler",
        code: Code.fromInline("exports.handler = async (event) => ({ echoed: event });"),
      });
      return stack;
    },
    { engines: { dynamodbEndpoint: inject("dynamodbEndpoint"), sqsEndpoint: sqs.endpoint } },
  );
  work = mkdtempSync(join(tmpdir(), "third-party-"));
  // Only what these clients need: no profile, no other endpoint, nothing from the caller's AWS setup.
  env = {
    PATH: "/usr/bin:/bin",
    HOME: work,
    AWS_ACCESS_KEY_ID: cloud.accessKeyId,
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_CONFIG_FILE: join(work, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(work, "credentials"),
    AWS_PAGER: "",
  };
}, 120_000);

afterAll(async () => {
  await cloud?.stop();
  await sqs?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** /usr/bin/aws with an explicit endpoint; its JSON answer. */
async function aws(service: string, endpoint: string, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(AWS, ["--endpoint-url", endpoint, "--output", "json", service, ...args], {
    env,
  });
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
}

/** The CLI's SQS commands on one queue: receive (with extra options) and delete. */
const cliQueue = (url: string) => ({
  receive: async (...options: string[]) =>
    (
      (await aws("sqs", sqs.endpoint, "receive-message", "--queue-url", url, ...options)) as {
        Messages?: Array<{ Body: string; ReceiptHandle: string }>;
      }
    ).Messages,
  remove: (receiptHandle: string) =>
    aws("sqs", sqs.endpoint, "delete-message", "--queue-url", url, "--receipt-handle", receiptHandle),
});

describe("Debian's AWS CLI (/usr/bin/aws 2.9, SQS's query protocol)", () => {
  it("is the build this test is about", async () => {
    const { stdout } = await run(AWS, ["--version"], { env });
    expect(stdout).toMatch(/^aws-cli\/2\.9\.\d+ /);
  });

  it("sends, receives and deletes on a FIFO and a standard queue, in the query protocol", async () => {
    const first = requests.length;
    for (const [id, fifo] of [
      ["Orders", true],
      ["Plain", false],
    ] as const) {
      const url = cloud.queueUrl(id);
      const body = `from the CLI <&> "${id}"\r\nsecond line`;
      const sent = await aws(
        "sqs",
        sqs.endpoint,
        "send-message",
        "--queue-url",
        url,
        "--message-body",
        body,
        ...(fifo ? ["--message-group-id", "g"] : []),
      );
      expect(sent.MessageId).toBeTruthy();
      const queue = cliQueue(url);
      const received = (await queue.receive("--wait-time-seconds", "1"))!;
      expect(received.map((m) => m.Body)).toEqual([body]);
      await queue.remove(received[0]!.ReceiptHandle);
      expect(await queue.receive("--visibility-timeout", "0")).toBeUndefined();
    }
    const seen = requests.slice(first);
    expect(seen.map((r) => `${r.protocol} ${r.action} ${r.status}`)).toEqual(
      ["Orders", "Plain"].flatMap(() => [
        "query SendMessage 200",
        "query ReceiveMessage 200",
        "query DeleteMessage 200",
        "query ReceiveMessage 200",
      ]),
    );
  });

  it("a query-protocol SendMessage posted to the queue's URL is delivered, and consumed", async () => {
    const url = cloud.queueUrl("Plain");
    const first = requests.length;
    const posted = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ Action: "SendMessage", Version: "2012-11-05", MessageBody: "by path" }),
    });
    expect(posted.status).toBe(200);
    expect(await posted.text()).toMatch(
      /^<\?xml version="1.0"\?><SendMessageResponse xmlns="http:\/\/queue\.amazonaws\.com\/doc\/2012-11-05\/"><SendMessageResult><MD5OfMessageBody>/,
    );
    expect(requests[first]).toMatchObject({
      protocol: "query",
      action: "SendMessage",
      path: new URL(url).pathname,
    });
    const queue = cliQueue(url);
    const received = (await queue.receive())!;
    expect(received.map((m) => m.Body)).toEqual(["by path"]);
    await queue.remove(received[0]!.ReceiptHandle);
  });

  it("a request the SQS endpoint does not understand is refused, never answered with success", async () => {
    const url = cloud.queueUrl("Plain");
    for (const [method, target, body] of [
      ["POST", url, "Action=Frobnicate&Version=2012-11-05"],
      ["POST", url, "MessageBody=no-action"],
      ["PUT", `${sqs.endpoint}/bucket/key`, "an S3 object"],
      ["GET", `${sqs.endpoint}/`, undefined],
    ] as const) {
      const response = await fetch(target, {
        method,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body,
      });
      expect(response.status, `${method} ${target} ${body}`).toBe(400);
      expect(await response.text()).toMatch(/<Code>InvalidAction<\/Code>/);
    }
  });

  it("writes and reads DynamoDB, invokes a function and lists functions", async () => {
    const table = cloud.tableName("Items");
    await aws(
      "dynamodb",
      cloud.dynamodbEndpoint,
      "put-item",
      "--table-name",
      table,
      "--item",
      '{"pk":{"S":"cli"},"n":{"N":"7"}}',
    );
    const got = await aws(
      "dynamodb",
      cloud.dynamodbEndpoint,
      "get-item",
      "--table-name",
      table,
      "--key",
      '{"pk":{"S":"cli"}}',
      "--consistent-read",
    );
    expect(got.Item).toEqual({ pk: { S: "cli" }, n: { N: "7" } });
    const echo = cloud.byConstruct(cloud.functions, "Echo").name;
    const out = join(work, "out.json");
    const invoked = await aws(
      "lambda",
      cloud.lambdaEndpoint,
      "invoke",
      "--function-name",
      echo,
      "--cli-binary-format",
      "raw-in-base64-out",
      "--payload",
      '{"from":"cli"}',
      out,
    );
    expect(invoked.StatusCode).toBe(200);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ echoed: { from: "cli" } });
    const listed = (await aws("lambda", cloud.lambdaEndpoint, "list-functions")) as {
      Functions: Array<{ FunctionName: string; Runtime: string; Handler: string }>;
    };
    expect(listed.Functions).toContainEqual(
      expect.objectContaining({ FunctionName: echo, Runtime: "nodejs24.x", Handler: "index.handler" }),
    );
    const described = (await aws(
      "lambda",
      cloud.lambdaEndpoint,
      "get-function",
      "--function-name",
      echo,
    )) as {
      Configuration: { FunctionName: string };
    };
    expect(described.Configuration.FunctionName).toBe(echo);
  });
});

/** A boto3 script, given the endpoints and names as JSON on argv; its JSON answer. */
const BOTO3 = `
import boto3, botocore, json, sys
settings = json.loads(sys.argv[1])
out = {"boto3": boto3.__version__, "protocol": None, "queues": {}}
sqs = boto3.client("sqs", endpoint_url=settings["sqs"])
out["protocol"] = sqs.meta.service_model.protocol
for name, url in settings["queues"].items():
    fifo = url.endswith(".fifo")
    extra = {"MessageGroupId": "g"} if fifo else {}
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"boto3 {i}", **extra} for i in range(3)])
    bodies = []
    for _ in range(6):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            bodies.append(m["Body"])
        if got:
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
        if len(bodies) >= 3:
            break
    left = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", [])
    out["queues"][name] = {"bodies": bodies, "left": len(left)}
ddb = boto3.client("dynamodb", endpoint_url=settings["dynamodb"])
ddb.put_item(TableName=settings["table"], Item={"pk": {"S": "boto3"}, "n": {"N": "3"}})
out["item"] = ddb.get_item(TableName=settings["table"], Key={"pk": {"S": "boto3"}}, ConsistentRead=True)["Item"]
lam = boto3.client("lambda", endpoint_url=settings["lambda"])
answer = lam.invoke(FunctionName=settings["function"], Payload=json.dumps({"from": "boto3"}))
out["invoked"] = json.loads(answer["Payload"].read())
out["functions"] = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
print(json.dumps(out))
`;

describe("Debian's boto3 (/usr/bin/python3, boto3 1.26, SQS's query protocol)", () => {
  it("sends in batches, receives and deletes in batches on both queues, uses DynamoDB and invokes a function", async () => {
    const first = requests.length;
    const settings = {
      sqs: sqs.endpoint,
      dynamodb: cloud.dynamodbEndpoint,
      lambda: cloud.lambdaEndpoint,
      queues: { Orders: cloud.queueUrl("Orders"), Plain: cloud.queueUrl("Plain") },
      table: cloud.tableName("Items"),
      function: cloud.byConstruct(cloud.functions, "Echo").name,
    };
    const { stdout } = await run(PYTHON, ["-c", BOTO3, JSON.stringify(settings)], { env });
    const out = JSON.parse(stdout);
    expect(out.boto3).toMatch(/^1\.26\./);
    expect(out.protocol).toBe("query");
    for (const name of ["Orders", "Plain"]) {
      expect([...out.queues[name].bodies].sort(), name).toEqual(["boto3 0", "boto3 1", "boto3 2"]);
      expect(out.queues[name].left, name).toBe(0);
    }
    // FIFO order within the group.
    expect(out.queues.Orders.bodies).toEqual(["boto3 0", "boto3 1", "boto3 2"]);
    expect(out.item).toEqual({ pk: { S: "boto3" }, n: { N: "3" } });
    expect(out.invoked).toEqual({ echoed: { from: "boto3" } });
    expect(out.functions).toContain(settings.function);
    const seen = requests.slice(first);
    expect(new Set(seen.map((r) => r.protocol))).toEqual(new Set(["query"]));
    expect(new Set(seen.map((r) => r.action))).toEqual(
      new Set(["SendMessageBatch", "ReceiveMessage", "DeleteMessageBatch"]),
    );
    expect(seen.every((r) => r.status === 200)).toBe(true);
  });
});
