/**
 * The Runtime API's contract, against bootstraps written for each case (shell and curl, as a custom
 * runtime may be): what the environment hands over, what it accepts back, and what it refuses.
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bootstrapCommand, ProcessEnvironment } from "../../src/runtime-api.ts";

const environments: ProcessEnvironment[] = [];
afterEach(async () => {
  await Promise.all(environments.splice(0).map((environment) => environment.terminate()));
});

/** An environment whose asset's bootstrap is this shell script ($API is the Runtime API's base). */
function environmentWith(script: string, env: Record<string, string> = {}) {
  const codeDir = mkdtempSync(join(tmpdir(), "runtime-api-"));
  writeFileSync(
    join(codeDir, "bootstrap"),
    `#!/bin/sh\nAPI="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"\n${script}\n`,
  );
  chmodSync(join(codeDir, "bootstrap"), 0o755);
  const environment = new ProcessEnvironment(
    {
      codeDir,
      handler: "my.handler",
      runtime: "provided.al2023",
      functionName: "Fn",
      functionArn: "arn:aws:lambda:us-east-1:000000000000:function:Fn",
      memoryMb: 128,
    },
    env,
  );
  environments.push(environment);
  const messages: Array<Record<string, unknown>> = [];
  environment.on("message", (message) => messages.push(message));
  let output = "";
  environment.stdout.on("data", (chunk) => {
    output += chunk;
  });
  const next = async (count: number) => {
    for (let i = 0; i < 200 && messages.length < count; i++) await new Promise((r) => setTimeout(r, 25));
    return messages;
  };
  return { environment, messages, next, output: () => output };
}

describe("the Runtime API", () => {
  it("hands over the event with Lambda's headers, the environment, and takes back any answer", async () => {
    const { environment, next, output } = environmentWith(
      `echo "handler=$_HANDLER root=$LAMBDA_TASK_ROOT exec=$AWS_EXECUTION_ENV color=$COLOR"
curl -sS -D /dev/stdout -o "$LAMBDA_TASK_ROOT/event" "$API/invocation/next" | tr -d '\\r' | grep -i '^lambda-runtime' | sort
curl -sS -X POST "$API/invocation/req-1/response" -d 'plain text, not JSON' >/dev/null
sleep 5`,
      { COLOR: "blue" },
    );
    environment.postMessage({ requestId: "req-1", payload: '{"a":1}', deadline: 1234 });
    const messages = await next(2);
    expect(messages).toEqual([
      { initialized: true },
      { requestId: "req-1", ok: true, payload: "plain text, not JSON" },
    ]);
    expect(output()).toContain("handler=my.handler root=");
    expect(output()).toContain("exec=AWS_Lambda_provided.al2023 color=blue");
    expect(output()).toContain("lambda-runtime-aws-request-id: req-1");
    expect(output()).toContain("lambda-runtime-deadline-ms: 1234");
    expect(output()).toContain(
      "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:Fn",
    );
    expect(output()).toMatch(/lambda-runtime-trace-id: Root=1-[0-9a-f]{8}-/);
  });

  it("takes an error with its type (body, else the error-type header), and refuses an unknown request id", async () => {
    const { environment, next, output } = environmentWith(
      `curl -sS "$API/invocation/next" >/dev/null
echo "unknown: $(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/invocation/nobody/response" -d '{}')"
curl -sS -X POST "$API/invocation/req-2/error" -H 'Lambda-Runtime-Function-Error-Type: Custom.Typed' -d '{"errorMessage":"broke"}' >/dev/null
sleep 5`,
    );
    environment.postMessage({ requestId: "req-2", payload: "{}", deadline: 0 });
    const messages = await next(2);
    expect(messages[1]).toEqual({
      requestId: "req-2",
      ok: false,
      error: { errorType: "Custom.Typed", errorMessage: "broke", trace: [] },
    });
    expect(output()).toContain("unknown: 400");
  });

  it("fails the init and every invocation with the runtime's init error", async () => {
    const { environment, next } = environmentWith(
      `curl -sS -X POST "$API/init/error" -d '{"errorType":"Runtime.NoHandler","errorMessage":"no such handler"}' >/dev/null
exit 1`,
    );
    const exited = new Promise((resolve) => environment.on("exit", resolve));
    environment.postMessage({ requestId: "req-3", payload: "{}", deadline: 0 });
    const messages = await next(2);
    expect(messages).toEqual([
      { initialized: false },
      {
        requestId: "req-3",
        ok: false,
        error: { errorType: "Runtime.NoHandler", errorMessage: "no such handler", trace: [] },
      },
    ]);
    expect(await exited).toBe(1);
  });

  it("runs Python on the given interpreter and a provided runtime's own bootstrap, and refuses others", () => {
    const dir = mkdtempSync(join(tmpdir(), "runtime-api-"));
    expect(bootstrapCommand("python3.13", dir, "/usr/bin/python3")).toMatchObject({
      command: "/usr/bin/python3",
      args: ["-u", expect.stringMatching(/python-bootstrap\.py$/)],
    });
    expect(() => bootstrapCommand("provided.al2", dir, "python3")).toThrow(/no bootstrap executable/);
    writeFileSync(join(dir, "bootstrap"), "");
    expect(bootstrapCommand("provided.al2", dir, "python3")).toEqual({
      command: join(dir, "bootstrap"),
      args: [],
    });
    expect(() => bootstrapCommand("java21", dir, "python3")).toThrow(/does not run locally/);
  });
});
