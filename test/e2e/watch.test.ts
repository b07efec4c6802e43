/**
 * `npm start -- --watch` on a user's app (a copy of the REST CRUD fixture, run with --in-memory so that a
 * restart would show as lost data): an edited handler is bundled again and runs on the next request,
 * with the table's items still there and the engines never restarted; a change that does not synthesize
 * leaves the last version running.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";
import { type AppProcess, runStart } from "../support/app-process.ts";
import { uniqueId } from "../support/local-cloud.ts";

// Inside the project, so that the app resolves aws-cdk-lib and tsx from its node_modules, as an app
// of the user's resolves its own.
const dir = fromRoot(`.local/watch-${uniqueId()}`);
let app: AppProcess;
let items: string;

beforeAll(async () => {
  cpSync(fromRoot("test/fixtures/rest-crud"), dir, { recursive: true });
  app = await runStart(["--app", dir, "--watch"]);
  items = app.outputs.ItemsUrl!;
}, 120_000);
afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const json = async (response: Response) => ({ status: response.status, body: await response.json() });

/** Waits for the n-th `[watch]` result line (reloaded, nothing changed, or a failure). */
async function watchResult(n: number): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const results = app
      .output()
      .split("\n")
      .filter((line) => /^\[watch\] (reloaded|no function|the change did not synthesize)/.test(line));
    if (results.length >= n) return results[n - 1]!;
    if (Date.now() > deadline) throw new Error(`no [watch] result ${n} in 90 s:\n${app.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("--watch", () => {
  it("runs an edited handler on the next request, with the data and the engines kept", async () => {
    // Printed just after "ready".
    for (let i = 0; i < 50 && !app.output().includes("watching "); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(app.output()).toContain("watching ");
    expect((await fetch(items, { method: "POST", body: JSON.stringify({ id: "apple" }) })).status).toBe(201);
    expect(await json(await fetch(`${items}/pear`))).toEqual({
      status: 404,
      body: { message: "no item pear" },
    });

    const handler = join(dir, "handler.ts");
    writeFileSync(
      handler,
      // The handler's source text (a template literal), not one of ours.
      readFileSync(handler, "utf8").replace("`no item $" + "{id}`", "`nothing called $" + "{id}`"),
    );
    expect(await watchResult(1)).toMatch(/^\[watch\] reloaded ItemsFunction \(/);

    expect(await json(await fetch(`${items}/pear`))).toEqual({
      status: 404,
      body: { message: "nothing called pear" },
    });
    // In memory: had the engines restarted, the item would be gone.
    expect(await json(await fetch(`${items}/apple`))).toEqual({ status: 200, body: { id: "apple" } });
    expect(app.output().match(/starting DynamoDB Local/g)).toHaveLength(1);
  }, 120_000);

  it("keeps the last version running when the change does not synthesize", async () => {
    const source = join(dir, "app.ts");
    const before = readFileSync(source, "utf8");
    writeFileSync(source, `${before}\nthrow new Error("half-written app");\n`);
    expect(await watchResult(2)).toBe(
      "[watch] the change did not synthesize: still running the last version",
    );
    expect(app.output()).toContain("half-written app");
    expect((await json(await fetch(`${items}/pear`))).body).toEqual({ message: "nothing called pear" });
    writeFileSync(source, before);
    expect(await watchResult(3)).toMatch(/^\[watch\] no function's code changed/);
  }, 120_000);
});
