/**
 * The local cloud as a user gets it: `npm pack` of packages/local-cloud, installed from the tarball into a
 * fresh project under the system's temporary directory (never through the workspace's source links). Its
 * tarball holds the compiled package and nothing else; its compiled modules import only their own files,
 * Node's built-ins and the dependencies it declares (none of this project's code); its bin answers --help,
 * refuses a bad option, runs a CDK app that is not ours and stops on Ctrl-C with 130, leaving nothing
 * running; its README's example runs in plain Node; a strict `nodenext` TypeScript project type-checks
 * against it with no error. Loopback only.
 */
import { spawnSync } from "node:child_process";
import { cpSync, globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";
import { runStart } from "../support/app-process.ts";
import {
  installInto,
  pack,
  strictTsconfig,
  TSC,
  tarballFiles,
  undeclaredImports,
} from "../support/packages.ts";
import { stillRunning, tree } from "../support/processes.ts";

const NAME = "@serverless-coordination/local-cloud";
let dir: string;
let tarball: string;
let installed: string;
let bin: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "local-cloud-package-"));
  tarball = pack(dir, [NAME])[0]!;
  const project = installInto(dir, "user-project", [tarball!]);
  installed = join(project, "node_modules", NAME);
  bin = join(project, "node_modules", ".bin", "local-cloud");
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the local cloud's package, installed from its tarball", () => {
  it("holds the compiled package and nothing else: no sources, tests or build files", () => {
    const files = tarballFiles(tarball);
    for (const file of files)
      expect(file).toMatch(
        /^(dist\/.+\.(js|d\.ts|mjs|html)|dist\/runtime\/python-bootstrap\.py|dist\/shims\/npx|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/,
      );
    for (const wanted of [
      "dist/bin.js",
      "dist/index.d.ts",
      "dist/runtime/python-bootstrap.py",
      "LICENSE",
      "CHANGELOG.md",
    ])
      expect(files).toContain(wanted);
  });

  it("every entry point loads in plain Node (synthesis loads aws-cdk-lib only when called)", async () => {
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    const entries = Object.keys(manifest.exports).filter((entry) => entry !== "./package.json");
    expect(entries).toEqual([".", "./console", "./engines", "./synthesize"]);
    const project = join(installed, "..", "..", "..");
    for (const entry of entries) {
      const script = `const m = await import(${JSON.stringify(NAME + entry.slice(1))}); console.log(Object.keys(m).length);`;
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: project,
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(run.stderr, entry).toBe("");
      expect(Number(run.stdout.trim()), entry).toBeGreaterThan(0);
    }
  });

  it("imports only its own files, Node's built-ins and the dependencies it declares, none of this project's", () => {
    expect(undeclaredImports(installed)).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    expect(
      Object.keys(manifest.dependencies).filter((name) => name.startsWith("@serverless-coordination/")),
    ).toEqual([]);
  });

  it("answers --help and refuses a bad option with one line and exit status 2", () => {
    const help = spawnSync(bin, ["--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: local-cloud \[options\]/);
    const bad = spawnSync(bin, ["--concurrency", "many"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trimEnd().split("\n")).toEqual([
      'local-cloud: --concurrency takes a whole number from 1 to 64, got "many"',
    ]);
  });

  it("runs an app that is not ours, then stops on Ctrl-C with 130 and leaves nothing running", async () => {
    const dataDir = join(dir, "data");
    const app = await runStart(
      ["--app", fromRoot("test/fixtures/rest-crud"), "--data-dir", dataDir],
      120_000,
      {
        bin,
        cwd: join(dir, "user-project"),
        // A first start from a new install of DynamoDB Local begins building its class archive in a
        // detached process that finishes after the start that began it, by design (the README's start-up
        // section): not what a stop leaves behind. The archive has tests of its own.
        env: { SC_DYNAMODB_CLASS_ARCHIVE: "off" },
      },
    );
    try {
      const items = app.outputs.ItemsUrl!;
      const created = await fetch(items, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "pear", color: "green" }),
      });
      expect(created.status).toBe(201);
      expect(await (await fetch(`${items}/pear`)).json()).toEqual({ id: "pear", color: "green" });
      // Its functions ran on the SDK the installed package provides, as Lambda's runtime provides it.
      expect(app.output()).toContain(`local cloud: app ${fromRoot("test/fixtures/rest-crud")}`);
      const pids = tree(app.pid);
      expect(await app.interrupt()).toBe(130);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(stillRunning(pids)).toEqual([]);
    } finally {
      await app.stop();
    }
  }, 180_000);

  it("runs its README's example in plain Node, and a strict nodenext project type-checks against it", () => {
    const project = join(dir, "user-project");
    const readme = readFileSync(join(installed, "README.md"), "utf8");
    const example = readme.match(/```ts\n([\s\S]*?)```/)?.[1];
    expect(example).toBeDefined();
    // The assembly of an app that is not ours, synthesized by the run above.
    const assemblies = globSync(join(tmpdir(), "serverless-coordination", "rest-crud-*", "cdk.out"));
    expect(assemblies.length).toBeGreaterThan(0);
    cpSync(assemblies[0]!, join(project, "cdk.out"), { recursive: true });
    writeFileSync(join(project, "example.ts"), example!);
    const run = spawnSync(process.execPath, ["example.ts"], {
      env: { ...process.env, SC_DYNAMODB_CLASS_ARCHIVE: "off" },
      cwd: project,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^POST \/prod\/items -> ItemsFunction$/m);

    // Strict, nodenext, and checking the package's declaration files too (no skipLibCheck).
    // Every entry point's declarations, beside the example's (synthesis's need aws-cdk-lib, not installed).
    writeFileSync(
      join(project, "entries.ts"),
      [".", "./console", "./engines"]
        .map((entry, i) => `export type * as entry${i} from "${NAME}${entry.slice(1)}";`)
        .join("\n"),
    );
    writeFileSync(join(project, "tsconfig.json"), strictTsconfig(["example.ts", "entries.ts"]));
    const tsc = spawnSync(process.execPath, [TSC, "-p", "tsconfig.json"], {
      cwd: project,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  }, 180_000);
});
