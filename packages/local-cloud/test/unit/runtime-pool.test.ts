/**
 * Environments booted ahead of their function (RuntimePool): the function's init runs only once the
 * function takes the environment, with the function's own environment variables, as on Lambda, where an
 * init never runs before its function (and the resources its variables name) exists.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalFunction, RuntimePool } from "../../src/functions.ts";

// A bundle as esbuild writes it for Lambda: the provided SDK left out (imported at run time), an init
// that reads its environment and counts itself.
const BUNDLE = `import { marshall } from "@aws-sdk/util-dynamodb";
const seenAtInit = { table: process.env.TABLE_NAME ?? null, keys: Object.keys(process.env).sort() };
globalThis.inits = (globalThis.inits ?? 0) + 1;
export const handler = async () => ({
  seenAtInit,
  tableNow: process.env.TABLE_NAME,
  inits: globalThis.inits,
  marshalled: marshall({ n: 1 }),
});
`;

describe("environments booted ahead of their function", () => {
  const root = mkdtempSync(join(tmpdir(), "runtime-pool-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const codeDir = join(root, "asset.fn");
  mkdirSync(codeDir);
  writeFileSync(join(codeDir, "index.mjs"), BUNDLE);
  const env = { TABLE_NAME: "local-Table", AWS_REGION: "us-east-1" };
  const create = (runtimes: RuntimePool) =>
    new LocalFunction("Fn", "Fn", "local-Fn", "arn:aws:lambda:us-east-1:000000000000:function:local-Fn", {
      codeDir,
      handler: "index.handler",
      runtime: "nodejs24.x",
      env,
      timeoutMs: 10_000,
      memoryMb: 128,
      concurrency: 2,
      runtimes,
    });

  it("run the function's init only when it takes them, with its environment and nothing else", async () => {
    const runtimes = new RuntimePool();
    runtimes.bootFor(
      {
        Resources: {
          Fn: {
            Type: "AWS::Lambda::Function",
            Properties: { Runtime: "nodejs24.x", Handler: "index.handler" },
            Metadata: { "aws:asset:path": "asset.fn" },
          },
        },
      },
      root,
    );
    expect(runtimes.waiting).toBe(1);
    // Time to load the SDK ahead; the init must still wait for the function.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const fn = create(runtimes);
    try {
      expect(await fn.prewarm()).toBe(true);
      expect(runtimes.waiting).toBe(0);
      const result = await fn.invoke({});
      expect(result.ok).toBe(true);
      const answer = (result as { payload: Record<string, unknown> }).payload;
      expect(answer.seenAtInit).toEqual({ table: "local-Table", keys: Object.keys(env).sort() });
      expect(answer.tableNow).toBe("local-Table");
      expect(answer.inits).toBe(1);
      expect(answer.marshalled).toEqual({ n: { N: "1" } });
      expect(fn.activity().environments).toBe(1);
    } finally {
      await fn.stop();
      await runtimes.stop();
    }
  });

  it("leave a function without one to start its environments as before", async () => {
    const runtimes = new RuntimePool();
    const fn = create(runtimes);
    try {
      const result = await fn.invoke({});
      expect(result.ok).toBe(true);
      expect((result as { payload: { seenAtInit: unknown } }).payload.seenAtInit).toEqual({
        table: "local-Table",
        keys: Object.keys(env).sort(),
      });
    } finally {
      await fn.stop();
      await runtimes.stop();
    }
  });
});
