/**
 * `npm start` as a user runs it, seen from the machine's socket table: every socket the local cloud
 * listens on is bound to loopback (DynamoDB Local, which cannot choose its address, listens only inside a
 * network namespace of its own), DynamoDB Local refuses cross-origin browser requests, and a SIGTERM
 * leaves nothing running. All traffic here goes to 127.0.0.1.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { signedFetch } from "@serverless-coordination/client";
import { freePort, LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stillRunning, tree } from "../support/processes.ts";

let child: ChildProcess;
let output = "";
const ports = { http: 0, lambda: 0, dynamodb: 0, sqs: 0 };

const netns = (pid: number | "self") => readlinkSync(`/proc/${pid}/ns/net`);

/** Socket inodes a process holds. */
function sockets(pid: number): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match) inodes.add(match[1]!);
    }
  } catch {
    // Gone, or not ours to read.
  }
  return inodes;
}

/** The listening TCP sockets of this network namespace: inode → "address:port". */
function listening(): Map<string, string> {
  const result = new Map<string, string>();
  for (const file of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    for (const line of readFileSync(file, "utf8").trim().split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== "0A") continue; // LISTEN
      const [hex, port] = fields[1]!.split(":") as [string, string];
      result.set(fields[9]!, `${decodeAddress(hex)}:${Number.parseInt(port, 16)}`);
    }
  }
  return result;
}

function decodeAddress(hex: string): string {
  if (hex.length === 8)
    return (hex.match(/../g) ?? [])
      .reverse()
      .map((byte) => Number.parseInt(byte, 16))
      .join(".");
  // IPv6: four little-endian 32-bit words.
  const words = (hex.match(/.{8}/g) ?? []).map((word) => (word.match(/../g) ?? []).reverse().join(""));
  const full = words.join("");
  if (full === "00000000000000000000000000000001") return "::1";
  if (full.startsWith("00000000000000000000ffff"))
    return `::ffff:${decodeAddress(words[3]!.match(/../g)!.reverse().join(""))}`;
  if (/^0+$/.test(full)) return "::";
  return full;
}

const loopback = (address: string) =>
  /^127\./.test(address) || address.startsWith("::1:") || /^::ffff:127\./.test(address);

beforeAll(async () => {
  for (const name of Object.keys(ports) as Array<keyof typeof ports>) ports[name] = await freePort();
  child = spawn(
    process.execPath,
    [
      "--conditions=serverless-coordination:source",
      "packages/local-cloud/src/bin.ts",
      "--in-memory",
      "--quiet",
      "--port",
      String(ports.http),
      "--lambda-port",
      String(ports.lambda),
      "--dynamodb-port",
      String(ports.dynamodb),
      "--sqs-port",
      String(ports.sqs),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout!.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    output += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes("ready in")) {
        clearInterval(timer);
        resolve();
      }
      if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`npm start exited: ${output}`));
      }
    }, 100);
  });
}, 120_000);

afterAll(() => {
  if (child.exitCode === null) child.kill("SIGKILL");
});

describe("the local cloud on the network", () => {
  it("listens on loopback only: every listening socket of its processes in this namespace, and DynamoDB Local in a namespace of its own", () => {
    const pids = tree(child.pid!);
    const host = netns("self");
    const table = listening();
    const bound: string[] = [];
    // A socket lives in the namespace it was made in, whichever process holds it: the relay beside
    // DynamoDB Local, in the JVM's namespace, accepts on one made on this namespace's loopback. The table
    // is this namespace's: what is listed there is reachable from here.
    for (const pid of pids) {
      for (const inode of sockets(pid)) {
        const address = table.get(inode);
        if (address) bound.push(address);
      }
    }
    // The four services this test asked for, and nothing on another address.
    for (const port of Object.values(ports)) expect(bound).toContain(`127.0.0.1:${port}`);
    expect(bound.filter((address) => !loopback(address))).toEqual([]);
    // The JVM is in another network namespace: what it listens on there is not reachable from here.
    const java = pids.filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("DynamoDBLocal.jar"),
    );
    expect(java.length).toBe(1);
    expect(netns(java[0]!)).not.toBe(host);
    // Started with a CORS allow-list of no real origin (its default is "*") and without telemetry.
    const args = readFileSync(`/proc/${java[0]}/cmdline`, "utf8").split("\0");
    expect(args[args.indexOf("-cors") + 1]).toBe("null");
    expect(args).toContain("-disableTelemetry");
    expect(output).not.toContain("listens on every interface");
  });

  it("refuses cross-origin browser requests to DynamoDB Local", async () => {
    const endpoint = `http://127.0.0.1:${ports.dynamodb}`;
    const preflight = await fetch(endpoint, {
      method: "OPTIONS",
      headers: {
        Origin: "https://attacker.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-amz-target,authorization",
      },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    const simple = await fetch(endpoint, {
      method: "POST",
      headers: { Origin: "https://attacker.example", "content-type": "text/plain" },
      body: "{}",
    });
    expect(simple.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers every request it accepted from 32 clients writing when a SIGTERM comes, then stops everything", async () => {
    const pids = tree(child.pid!);
    // Warm every environment the writes below will use (the Api's and each replica's, four each), so
    // that what is measured is the drain and not a cold start: rounds of 32 concurrent writes, at least
    // three, until a round is all 200.
    const signing = { region: LOCAL_REGION, credentials: localCredentials("local") };
    const fetch = signedFetch(signing);
    const write = (key: string, value: unknown) =>
      fetch(`http://127.0.0.1:${ports.http}/kv/${key}`, {
        method: "PUT",
        body: JSON.stringify({ value, consistency: "all" }),
      });
    for (let round = 0; round < 40; round++) {
      const statuses = await Promise.all(
        Array.from({ length: 32 }, async (_, index) => (await write(`warm-${index}`, round)).status),
      );
      if (round >= 2 && statuses.every((status) => status === 200)) break;
    }
    // 32 clients, each writing in a loop on its kept-alive connections until the local cloud stops
    // answering. A request either gets its answer or was never accepted: its connection was refused
    // (the listener closed). A reset or a connection closed under a request is a request lost.
    const outcomes: string[] = [];
    let signalled = false;
    const clients = Array.from({ length: 32 }, async (_, index) => {
      for (let n = 0; ; n++) {
        try {
          const response = await write(`drain-${index}`, n);
          await response.arrayBuffer();
          outcomes.push(String(response.status));
        } catch (error) {
          const cause = (error as { cause?: { code?: string } }).cause;
          outcomes.push(cause?.code ?? String(error));
          if (signalled) return;
        }
      }
    });
    // Under way: every client has had answers.
    while (outcomes.length < 96) await new Promise((resolve) => setTimeout(resolve, 20));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    signalled = true;
    child.kill("SIGTERM");
    await Promise.all(clients);
    const counts = Object.fromEntries(
      [...new Set(outcomes)].map((o) => [o, outcomes.filter((x) => x === o).length]),
    );
    expect(Object.keys(counts).sort(), JSON.stringify(counts)).toEqual(["200", "ECONNREFUSED"]);
    expect(counts.ECONNREFUSED).toBe(32);
    expect(await exited).toBe(0);
    // Give the process group's last members a moment, then nothing of it may be left.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stillRunning(pids)).toEqual([]);
    // Warming can take a minute on two busy cores: the replicas' call timeouts are short.
  }, 150_000);
});
