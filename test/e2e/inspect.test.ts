/**
 * `npm start -- --inspect FUNCTION`: the function runs in one environment with the inspector listening
 * on the port given (loopback), printed at start; requests are still served. A name that is no function
 * of the stack is refused with exit status 2.
 */

import { freePort } from "@serverless-coordination/local-cloud";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, refusedStart, runStart } from "../support/app-process.ts";

let app: AppProcess;
let port: number;

beforeAll(async () => {
  port = await freePort();
  app = await runStart([
    "--app",
    "test/fixtures/rest-crud",
    "--inspect",
    "ItemsFunction",
    "--inspect-port",
    String(port),
  ]);
}, 120_000);
afterAll(() => app?.stop());

describe("--inspect", () => {
  it("opens the inspector of the function's one environment on the port it prints", async () => {
    expect(app.output()).toContain(`inspector        ws://127.0.0.1:${port}   (ItemsFunction:`);
    // The inspector's own HTTP endpoint lists the environment as a debugging target.
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
      webSocketDebuggerUrl: string;
    }>;
    expect(targets).toHaveLength(1);
    expect(targets[0]!.webSocketDebuggerUrl).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${port}/`));
    // Not paused: the function answers.
    expect((await fetch(app.outputs.ItemsUrl!)).status).toBe(200);
  });

  it("refuses a name that is no function of the stack", async () => {
    const refused = await refusedStart(["--app", "test/fixtures/rest-crud", "--inspect", "Nope"]);
    expect(refused.code).toBe(2);
    expect(refused.output).toMatch(
      /--inspect Nope names no function of the stack \(its functions: ItemsFunction\)/,
    );
  }, 120_000);
});
