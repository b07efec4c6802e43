/**
 * The project's commands, run as a user runs them. `npm start` (the local cloud's bin from its sources,
 * packages/local-cloud/src/bin.ts, on this project's app; its packed form: local-cloud-package.test.ts): --help lists every
 * option, a bad option is one line and exit status 2 before anything starts, Ctrl-C (SIGINT) stops
 * everything with 130, and --data-dir puts the data where it says. `npm run sim` and `npm run bench`
 * follow the same rules for a bad option. Loopback only.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@serverless-coordination/local-cloud";
import { describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";
import { stillRunning, tree } from "../support/processes.ts";

const start = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(
    process.execPath,
    ["--conditions=serverless-coordination:source", "packages/local-cloud/src/bin.ts", ...args],
    {
      cwd: fromRoot("."),
      encoding: "utf8",
      env: { ...process.env, ...env },
      timeout: 30_000,
    },
  );

describe("npm start's options", () => {
  it("--help (and -h) prints every option and the environment variables, and starts nothing", () => {
    for (const flag of ["--help", "-h"]) {
      const run = start([flag]);
      expect(run.status, flag).toBe(0);
      expect(run.stderr).toBe("");
      for (const option of [
        "--help",
        "--app",
        "--assembly",
        "--stack",
        "--context",
        "--in-memory",
        "--data-dir",
        "--port",
        "--lambda-port",
        "--dynamodb-port",
        "--sqs-port",
        "--concurrency",
        "--quiet",
        "--watch",
        "--inspect",
        "--inspect-port",
        "PORT",
        "LAMBDA_PORT",
        "DYNAMODB_PORT",
        "SQS_PORT",
      ])
        expect(run.stdout, option).toContain(option);
      expect(run.stdout).not.toMatch(/starting DynamoDB Local/);
    }
    // The local cloud's page shows the same text, so it is never stale.
    expect(readFileSync(fromRoot("docs/local-cloud.md"), "utf8")).toContain(
      start(["--help"]).stdout.trimEnd(),
    );
  });

  it("refuses each bad option with one line and exit status 2, before any engine starts", () => {
    const cases: Array<[string[], RegExp, Record<string, string>?]> = [
      [["--port", "abc"], /--port takes a port from 1 to 65535, got "abc"/],
      [["--port", "70000"], /--port takes a port/],
      [["--lambda-port", "-1"], /--lambda-port/],
      [["--dynamodb-port", "1e3"], /--dynamodb-port takes a port/],
      [[], /PORT takes a port from 1 to 65535, got "http"/, { PORT: "http" }],
      [["--port", "3000", "--sqs-port", "3000"], /port 3000 is given twice/],
      [["--concurrency", "0"], /--concurrency takes a whole number from 1 to 64/],
      [["--concurrency", "2.5"], /--concurrency/],
      [["--bogus"], /Unknown option '--bogus' \(see --help\)/],
      [["positional"], /Unexpected argument 'positional'/],
      [["--app", "docs"], /docs has no cdk.json: run it in a CDK app's directory/],
      [["--app", "a", "--assembly", "b"], /--app and --assembly exclude each other/],
      [["--app"], /argument missing/],
      [["-c", "novalue"], /--context takes KEY=VALUE/],
      [["--assembly", "cdk.out", "-c", "a=b"], /--context applies to an app's synthesis/],
      [["--data-dir", ""], /--data-dir takes a non-empty value/],
      [["--inspect-port", "9230"], /--inspect-port goes with --inspect FUNCTION/],
      [["--inspect", "Api", "--inspect-port", "x"], /--inspect-port takes a port/],
    ];
    for (const [args, message, env] of cases) {
      const began = Date.now();
      const run = start(args, env);
      const what = `${args.join(" ")} ${JSON.stringify(env ?? {})}`;
      expect(run.status, what).toBe(2);
      expect(run.stdout, what).toBe("");
      expect(run.stderr.trimEnd().split("\n"), what).toHaveLength(1);
      expect(run.stderr, what).toMatch(message);
      // Refused at once: no JVM was spawned (DynamoDB Local alone takes seconds to boot).
      expect(Date.now() - began, what).toBeLessThan(10_000);
    }
  });

  it("stops everything on Ctrl-C (SIGINT) with exit status 130, its data in --data-dir", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "start-data-"));
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const child = spawn(
      process.execPath,
      [
        "--conditions=serverless-coordination:source",
        "packages/local-cloud/src/bin.ts",
        "--quiet",
        "--data-dir",
        dataDir,
        ...["--port", "--lambda-port", "--dynamodb-port", "--sqs-port"].flatMap((option, i) => [
          option,
          String(ports[i]),
        ]),
      ],
      { cwd: fromRoot("."), stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const deadline = Date.now() + 120_000;
      while (!output.includes("\nready in ")) {
        if (child.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
        if (Date.now() > deadline) throw new Error(`no "ready" in 120 s:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(output).toContain(`data             ${join(dataDir, "dynamodb")}`);
      // DynamoDB Local keeps its database files there.
      expect(readdirSync(join(dataDir, "dynamodb")).some((file) => file.endsWith(".db"))).toBe(true);
      const pids = tree(child.pid!);
      child.kill("SIGINT");
      expect(await exited).toBe(130);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(stillRunning(pids)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe("npm run sim's and npm run bench's options", () => {
  const command = (script: string, args: string[]) =>
    spawnSync(process.execPath, ["--conditions=serverless-coordination:source", script, ...args], {
      cwd: fromRoot("."),
      encoding: "utf8",
      timeout: 30_000,
    });

  it("refuse a bad option with one line and exit status 2, running nothing", () => {
    const cases: Array<[string, string[], RegExp]> = [
      ["test/simulation/run.ts", ["--seeds", "abc"], /--seeds takes a whole number from 1, got "abc"/],
      ["test/simulation/run.ts", ["--seeds", "0"], /--seeds takes a whole number from 1/],
      ["test/simulation/run.ts", ["--seeds", "1e3"], /--seeds takes a whole number from 1/],
      ["test/simulation/run.ts", ["--from", "-1"], /--from/],
      ["test/simulation/run.ts", ["--paxos", "extra"], /Unexpected argument 'extra'/],
      ["test/simulation/run.ts", ["--bogus"], /Unknown option '--bogus'/],
      ["bench/run.ts", ["--scale", "abc"], /--scale takes a positive number/],
      ["bench/run.ts", ["--scale", "0"], /--scale takes a positive number/],
      ["bench/run.ts", ["nosuch"], /unknown suite nosuch/],
      ["bench/run.ts", ["--bogus"], /Unknown option '--bogus'/],
    ];
    for (const [script, args, message] of cases) {
      const run = command(script, args);
      const what = `${script} ${args.join(" ")}`;
      expect(run.status, what).toBe(2);
      expect(run.stdout, what).toBe("");
      expect(run.stderr.trimEnd().split("\n"), what).toHaveLength(1);
      expect(run.stderr, what).toMatch(message);
    }
  });

  it("npm run sim --help says what it takes", () => {
    const run = command("test/simulation/run.ts", ["--help"]);
    expect(run.status).toBe(0);
    for (const option of ["--paxos", "--leases", "--outbox", "--seeds", "--from", "--broken"])
      expect(run.stdout).toContain(option);
  });
});
