/**
 * The local cloud as a user gets it: `npm pack` of packages/local-cloud, installed from the tarball into a
 * fresh project under the system's temporary directory (never through the workspace's source links). Its
 * tarball holds the compiled package and nothing else; its compiled modules import only their own files,
 * Node's built-ins and the dependencies it declares (none of this project's code); its bin answers --help,
 * refuses a bad option, runs a CDK app that is not ours and stops on Ctrl-C with 130, leaving nothing
 * running; its README's example runs in plain Node; a strict `nodenext` TypeScript project type-checks
 * against it with no error. Loopback only.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";
import { runStart } from "../support/app-process.ts";
import { stillRunning, tree } from "../support/processes.ts";

const NAME = "@serverless-coordination/local-cloud";
let dir: string;
let tarball: string;
let installed: string;
let bin: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "local-cloud-package-"));
  // prepack builds the package (tsc, then the files tsc does not emit).
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", dir, "-w", NAME], {
      cwd: fromRoot("."),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }),
  ) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(dir, packed[0]!.filename);
  const project = join(dir, "user-project");
  cpSync(fromRoot("test/fixtures/package-user"), project, { recursive: true });
  execFileSync(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock", tarball],
    { cwd: project, stdio: ["ignore", "pipe", "pipe"] },
  );
  installed = join(project, "node_modules", NAME);
  bin = join(project, "node_modules", ".bin", "local-cloud");
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the local cloud's package, installed from its tarball", () => {
  it("holds the compiled package and nothing else: no sources, tests or build files", () => {
    const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n");
    for (const file of files)
      expect(file).toMatch(
        /^package\/(dist\/.+\.(js|d\.ts|mjs|html)|dist\/shims\/npx|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/,
      );
    for (const wanted of [
      "package/dist/bin.js",
      "package/dist/index.d.ts",
      "package/LICENSE",
      "package/CHANGELOG.md",
    ])
      expect(files).toContain(wanted);
  });

  it("imports only its own files, Node's built-ins and the dependencies it declares", () => {
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    const declared = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const specifiers = /(?:from\s+|import\s*\(\s*)["']([^"']+)["']/g;
    const seen = new Set<string>();
    for (const file of globSync("dist/**/*.{js,mjs}", { cwd: installed })) {
      const text = readFileSync(join(installed, file), "utf8");
      for (const [, specifier] of text.matchAll(specifiers)) {
        if (specifier!.startsWith(".")) {
          const target = resolve(dirname(join(installed, file)), specifier!);
          expect(target.startsWith(join(installed, "dist")), `${file}: ${specifier}`).toBe(true);
          continue;
        }
        const bare = specifier!.replace(/^node:/, "");
        if (builtinModules.includes(bare) || builtinModules.includes(bare.split("/")[0]!)) continue;
        const pkg = specifier!.startsWith("@")
          ? specifier!.split("/").slice(0, 2).join("/")
          : specifier!.split("/")[0]!;
        // The worker's provided-SDK hook names "@aws-sdk/..." in a comment-like string; real imports only.
        if (pkg === "@aws-sdk/...") continue;
        seen.add(pkg);
        expect(declared.has(pkg), `${file} imports ${pkg}, not a declared dependency`).toBe(true);
        expect(pkg.startsWith("@serverless-coordination/"), `${file} imports ${pkg}`).toBe(false);
      }
    }
    expect(seen.has("fauxqs")).toBe(true);
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
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          lib: ["es2023"],
          noEmit: true,
          skipLibCheck: false,
          allowImportingTsExtensions: true,
          types: ["node"],
          typeRoots: [fromRoot("node_modules/@types")],
        },
        files: ["example.ts"],
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [fromRoot("node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"],
      { cwd: project, encoding: "utf8", timeout: 120_000 },
    );
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  }, 180_000);
});
