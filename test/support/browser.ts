/** What the console's browser tests share: the browser to drive, and waiting for what a page shows. */
import { existsSync } from "node:fs";

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it), or CHROMIUM_PATH. */
export const CHROMIUM =
  process.env.CHROMIUM_PATH ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);

/** Polls `what` until it matches `pattern`; fails saying what the page showed last. */
export async function waitFor(what: () => Promise<string>, pattern: RegExp, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    last = await what().catch(() => "");
    if (pattern.test(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the page never showed ${pattern}; it shows: ${last}`);
}
