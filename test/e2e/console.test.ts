/**
 * The local console in a real browser (Debian's chromium, driven by playwright-core): fault a replica
 * from the page, write with `all` through the typed client and see the replica down and the write's 503
 * on the page; reset it from the page and see the replicas converge on one version.
 *
 * The screenshot goes to .local/console/console.png; with CONSOLE_SCREENSHOT=docs (npm run
 * console:screenshot) it replaces docs/console.png, the README's picture.
 */
import { existsSync, mkdirSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";
import { ApiClient, UnknownOutcomeError } from "../../shared/client/api-client.ts";
import { uniqueId } from "../support/local-cloud.ts";
import { type E2ETarget, startTarget } from "../support/target.ts";

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it), or CHROMIUM_PATH. */
const CHROMIUM =
  process.env.CHROMIUM_PATH ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);

let target: E2ETarget;
let browser: Browser;
let page: Page;
const key = `console-${uniqueId()}`;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error("no chromium: apt-get install chromium, or set CHROMIUM_PATH");
  [target, browser] = await Promise.all([
    startTarget(),
    chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] }),
  ]);
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await target?.stop();
});

/** The text of a row of a panel, as the page shows it now. */
const row = (panel: string, selector: string) => page.locator(`#${panel} ${selector}`).innerText();
const waitFor = async (what: () => Promise<string>, pattern: RegExp, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    last = await what().catch(() => "");
    if (pattern.test(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the page never showed ${pattern}; it shows: ${last}`);
};

describe.runIf(!process.env.E2E_BASE_URL)("the console (local cloud, real browser)", () => {
  it("shows a replica faulted from the page, the all-write's 503, and the replicas converging after the reset", async () => {
    const client = new ApiClient({ baseUrl: target.baseUrl, fetch: target.fetch, retries: 1 });
    await client.kv.put(key, { step: 1 }, "all");
    // Only this test's data: a fresh cloud (its own access key id) holds nothing else.
    await page.goto(`${target.baseUrl}/_console?kv=${key}&paxos=${key}`);
    await waitFor(() => page.locator("#convergence").innerText(), /replicas converged/);

    // Fault Replica3 from the page.
    await page.selectOption('select[data-fault="Replica3"]', "error");
    await waitFor(() => row("replication", 'tr[data-replica="Replica3"]'), /down \(error\)/);
    await waitFor(() => row("functions", 'tr[data-function="Replica3"]'), /down \(error\)/);

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

    // Reset from the page; a read with consistency=all repairs Replica3 (the queue would, after the
    // failed delivery's visibility timeout).
    await page.selectOption('select[data-fault="Replica3"]', "none");
    await waitFor(() => row("replication", 'tr[data-replica="Replica3"]'), /\bup\b/);
    expect(await client.kv.get(key, { consistency: "all" })).toMatchObject({
      value: { step: 2 },
      repaired: ["Replica3"],
    });
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

    const docs = process.env.CONSOLE_SCREENSHOT === "docs";
    mkdirSync(fromRoot(".local/console"), { recursive: true });
    await page.screenshot({
      path: fromRoot(docs ? "docs/console.png" : ".local/console/console.png"),
      fullPage: true,
    });
  }, 90_000);
});
