/**
 * The local cloud's console on an app that is not ours and registers no plug-in (test/fixtures/
 * orders-inbox, run as a user runs it): its generic panels in a real browser (Debian's chromium through
 * playwright-core): functions with their invocations and log lines, the HTTP requests, a table's items
 * and a peek at a queue's messages that receives nothing. The demo's plug-in panels are tested in
 * replication.test.ts.
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, runStart } from "../support/app-process.ts";
import { CHROMIUM, waitFor } from "../support/browser.ts";

let app: AppProcess;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error("no chromium: apt-get install chromium, or set CHROMIUM_PATH");
  app = await runStart(["--app", "test/fixtures/orders-inbox"]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** The text of an element as the page shows it (Playwright's innerText: table cells tab-separated). */
// biome-ignore lint/performance/useDomNodeTextContent: Playwright's locator method, not the DOM property.
const shown = (selector: string) => page.locator(selector).innerText();

describe("the console on an app with no plug-in", () => {
  it("shows functions, requests, a table's items and a queue's messages, and only the generic panels", async () => {
    const created = await fetch(app.outputs.OrdersUrl!, {
      method: "POST",
      body: JSON.stringify({ orderId: "o-17", total: 42 }),
    });
    expect(created.status).toBe(201);
    await page.goto(`${app.apiUrl}/_console`);
    await waitFor(() => shown("#status"), /updated/);
    // Only the generic panels, and no plug-in inputs.
    expect(await page.locator("main > section").evaluateAll((sections) => sections.map((s) => s.id))).toEqual(
      ["functions", "requests", "tables", "queues"],
    );
    expect(await page.locator("#inputs input").count()).toBe(0);

    await waitFor(() => shown('#functions tr[data-function="ReceiveOrder"]'), /up/);
    await waitFor(() => shown("#requests"), /POST \/orders\s+201/);
    // Its log lines.
    await page.locator('#functions details[data-logs="ReceiveOrder"] summary').click();
    await waitFor(() => shown('#functions details[data-logs="ReceiveOrder"]'), /received order o-17/);

    // A table's items.
    await page.locator('#tables a[data-input="table"]').first().click();
    await waitFor(() => shown("#table-items"), /"orderId":"o-17"/);
    expect(page.url()).toMatch(/[?&]table=Orders/);

    // A peek at the queue: the message is there, and still waiting after the peek (nothing received).
    await page.locator('#queues a[data-input="queue"]').first().click();
    await waitFor(() => shown("#queue-messages"), /waiting\s+\S+\s+\{"orderId":"o-17","total":42\}/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await shown('#queues tr[data-queue^="NightlyBatch"]')).toMatch(/\t1\t0\t0/);
  }, 90_000);
});
