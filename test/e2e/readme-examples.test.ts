/**
 * The examples of the README and of the docs pages it links, run as written against `npm start` (leases
 * shortened through context, so the walkthrough takes seconds): the README's first requests and its core
 * and client examples; the Paxos and key-value shell blocks, fault injection, the typed client example,
 * the subsetting example, and the sticky-lookup walkthrough with its `acurl` function, the lookup client
 * example and the proxy example. The only edits are the ones a reader's machine would make
 * for them: the port the local cloud listens on, and absolute paths to the project's modules.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "@serverless-coordination/local-cloud";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";
import { type AppProcess, runStart } from "../support/app-process.ts";

/** The README, then the pages it links whose examples run against the demo. */
const PAGES = [
  "README.md",
  "docs/running.md",
  "docs/api.md",
  "docs/paxos.md",
  "docs/outbox.md",
  "docs/leases.md",
  "docs/subsetting.md",
];
const readme = PAGES.map((page) => readFileSync(fromRoot(page), "utf8")).join("\n");

/** The first fenced block of `language` after the line that contains `marker`. */
function blockAfter(marker: string, language: "sh" | "ts"): string {
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`neither the README nor ${PAGES.slice(1).join(", ")} has "${marker}"`);
  const start = readme.indexOf(`\`\`\`${language}\n`, at);
  const end = readme.indexOf("\n```", start + 4);
  return readme.slice(start + language.length + 4, end + 1);
}

function run(
  command: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: fromRoot("."), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

let app: AppProcess;
let port: string;
// In the project (as the README says: its package.json makes .ts files ES modules, so top-level await
// works), in a directory git ignores.
const dir = fromRoot(".local/readme-examples");
mkdirSync(dir, { recursive: true });
/**
 * A README TypeScript example as a file in this project (its imports of the packages resolve through the
 * workspace, run with their sources' condition as the README says), its port ours.
 */
const SOURCES = "--conditions=serverless-coordination:source";
const example = (name: string, source: string, replacements: Array<[string, string]> = []) => {
  let text = source.replaceAll("127.0.0.1:3000", `127.0.0.1:${port}`);
  for (const [from, to] of replacements) text = text.replaceAll(from, to);
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(async () => {
  app = await runStart(["-c", "leaseDurationMs=4000", "-c", "maxClockSkewMs=300"]);
  port = new URL(app.apiUrl).port;
}, 120_000);
afterAll(() => app?.stop());

/** Runs a README shell block with the README's own `acurl`, against this run's local cloud. */
async function shell(marker: string) {
  const acurl = blockAfter("curl signs requests itself", "sh").trim();
  expect(acurl).toMatch(/^acurl\(\) \{/);
  const block = blockAfter(marker, "sh")
    .replaceAll("localhost:3000", `127.0.0.1:${port}`)
    .replaceAll("http://127.0.0.1:3001", app.lambdaUrl);
  // Job control, as in the interactive shell the examples are written for (`kill %1 %2`).
  const { code, output } = await run("bash", ["-c", `set -m\n${acurl}\n${block}`], 90_000);
  expect(code, output).toBe(0);
  // acurl prints each answer without a newline: split the JSON documents apart.
  return output
    .split(/(?<=\})(?=\{)|\n/)
    .filter((line) => line.startsWith("{"))
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        throw new Error(`not one JSON document: ${line}`);
      }
    });
}

describe("the README's own examples, as written", () => {
  it("the first requests: a register and a replicated write, read back", async () => {
    expect(await shell("acurl() {")).toEqual([
      expect.objectContaining({ key: "greeting", version: 1 }),
      expect.objectContaining({ key: "cart-1", consistency: "all" }),
      expect.objectContaining({ key: "cart-1", value: 2 }),
    ]);
  }, 120_000);

  it("core: a register on three in-memory acceptors, set, compare-and-set and read", async () => {
    const path = example("register.ts", blockAfter("**core**: a Paxos register", "ts"));
    const { code, output } = await run(process.execPath, [SOURCES, path]);
    expect(code, output).toBe(0);
    expect(output.trim()).toBe("{ mode: 'off' }");
  }, 60_000);

  it("client: a register set through the typed client, with the request's id", async () => {
    const path = example("readme-client.ts", blockAfter("**client**: with `npm start` running", "ts"));
    const { code, output } = await run(process.execPath, [SOURCES, path]);
    expect(code, output).toBe(0);
    expect(output.trim()).toMatch(/^version \d+, request [0-9a-f-]{36}$/);
  }, 60_000);
});

describe("the subsetting page's example, as written", () => {
  it("computes a client's slot subset from GET /servers' answer", async () => {
    const path = example("subset.ts", blockAfter("every client computes the same plan", "ts"));
    const { code, output } = await run(process.execPath, [SOURCES, path]);
    expect(code, output).toBe(0);
    expect(output.trim()).toBe("[ 'game-1', 'game-2' ]");
  }, 60_000);
});

describe("the docs' Paxos and key-value examples, as written, on a fresh store", () => {
  it("write-once, set, compare-and-set and a linearizable read", async () => {
    expect(await shell("# Consensus (Paxos registers)")).toEqual([
      expect.objectContaining({ key: "leader", won: true, value: "node-a" }),
      expect.objectContaining({ key: "config", version: 1 }),
      expect.objectContaining({ key: "config", version: 2 }),
      expect.objectContaining({ key: "config", value: 2, version: 2 }),
    ]);
  }, 120_000);

  it("all and primary writes, reads from the primary, a replica and all, and the change count", async () => {
    const answers = await shell("# Atomic enqueue and the replicated key-value store");
    expect(answers).toHaveLength(6);
    expect(answers[0]).toMatchObject({ key: "cart-7", consistency: "all" });
    expect(answers[1]).toMatchObject({ key: "cart-7", consistency: "primary" });
    expect(answers[2]).toMatchObject({ key: "cart-7", value: { items: 4 } });
    expect([{ items: 3 }, { items: 4 }]).toContainEqual(answers[3].value); // a replica may be behind
    expect(answers[4]).toMatchObject({ key: "cart-7", value: { items: 4 } });
    expect(answers[5]).toEqual({ key: "cart-7", changes: 2 });
  }, 120_000);
});

describe("the running page's fault-injection example, as written", () => {
  it("error, timeout, delay, lose-reply and back to normal, on Replica3", async () => {
    const answers = await shell("Fault injection, for tests and experiments");
    // The function ids are the construct paths (the fault API also takes "Replica3", the tail only it has).
    expect(answers[0].functions.map((fn: { id: string }) => fn.id)).toContain("Coordination-Replica3");
    expect(answers.slice(1)).toEqual([
      { id: "Coordination-Replica3", mode: "error" },
      expect.objectContaining({ error: expect.objectContaining({ code: "ReplicaUnavailable" }) }),
      expect.objectContaining({ key: "k", consistency: "primary" }),
      { id: "Coordination-Replica3", mode: "timeout" },
      { id: "Coordination-Replica3", mode: "delay", delayMs: 300, jitterMs: 200 },
      expect.objectContaining({ key: "k", consistency: "all" }),
      { id: "Coordination-Replica3", mode: "lose-reply" },
      expect.objectContaining({ error: expect.objectContaining({ code: "ReplicaUnavailable" }) }),
      { id: "Coordination-Replica3", mode: "none" },
    ]);
  }, 120_000);
});

describe("the API page's typed client example, as written", () => {
  it("sets, is refused a stale compare-and-set, sets again, reads, and writes to every replica", async () => {
    const path = example("client.ts", blockAfter("## The typed client", "ts"));
    const { code, output } = await run(process.execPath, [SOURCES, path]);
    expect(code, output).toBe(0);
    expect(output).toContain("refused: VersionConflict, nothing written");
    expect(output).toMatch(/\{ key: 'feature-flags', value: \{ dark: false \}, version: \d+ \}/);
    expect(output).toContain("cart-9 is on Replica1, Replica2, Replica3");
  }, 60_000);
});

describe("the leases page's sticky-lookup examples, as written", () => {
  it("the proxy example answers 400 without ?session= and 503 NoLiveServer when no server is live", async () => {
    const proxyPort = String(await freePort());
    const path = example("proxy.ts", blockAfter("Proxying through the lookup service", "ts"), [
      [".listen(8080,", `.listen(${proxyPort},`],
    ]);
    const proxy = spawn(process.execPath, [SOURCES, path], { cwd: fromRoot("."), stdio: "pipe" });
    try {
      let ready = false;
      proxy.stdout.on("data", (chunk) => {
        if (String(chunk).includes("proxy on")) ready = true;
      });
      const deadline = Date.now() + 20_000;
      while (!ready && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(ready).toBe(true);
      expect((await fetch(`http://127.0.0.1:${proxyPort}/`)).status).toBe(400);
      const down = await fetch(`http://127.0.0.1:${proxyPort}/?session=match-9`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ error: "NoLiveServer" });
    } finally {
      proxy.kill("SIGTERM");
    }
  }, 60_000);

  it("the lookup client example prints its session's server and token, writes state and releases", async () => {
    const path = example("lookup.ts", blockAfter("The lookup client (`LookupClient`", "ts"));
    const { code, output } = await run(process.execPath, [SOURCES, path]);
    expect(code, output).toBe(0);
    expect(output).toContain("match-7 is on game-1 (fencing token 1)");
    expect(output).toContain("state written, lease released");
  }, 60_000);

  it("the walkthrough: lookup, refused and waiting moves, fencing, state and hand-off", async () => {
    const answers = await shell("A walkthrough (with `acurl`");
    expect(answers).toEqual([
      expect.objectContaining({ sessionId: "match-42", serverId: "game-1", fencingToken: 1 }),
      {
        servers: [
          expect.objectContaining({ serverId: "game-1" }),
          expect.objectContaining({ serverId: "game-2" }),
        ],
      },
      expect.objectContaining({ serverId: "game-1", fencingToken: 1 }),
      { error: expect.objectContaining({ code: "LeaseHeld", retryAfterMs: expect.any(Number) }) },
      expect.objectContaining({ serverId: "game-2", fencingToken: 2, waitedMs: expect.any(Number) }),
      { error: expect.objectContaining({ code: "StaleFencingToken" }) },
      expect.objectContaining({ serverId: "game-2", fencingToken: 2, state: { turn: 7 } }),
      expect.objectContaining({ state: { turn: 7 }, fencingToken: 2 }),
      expect.objectContaining({ serverId: "game-2", fencingToken: 2, released: true }),
    ]);
  }, 120_000);
});
