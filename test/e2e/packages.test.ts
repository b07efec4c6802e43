/**
 * The runtime and client packages as a user gets them: packed, installed from their tarballs into a fresh
 * project under the system's temporary directory. Each tarball holds compiled JavaScript with types and
 * nothing else; each entry point loads in plain Node and nothing else of a package is reachable; the
 * client pulls in neither aws-cdk-lib nor any AWS SDK client; both READMEs' examples type-check in a strict
 * `nodenext` project and run: the runtime's on its own, the client's against this project's stack on the
 * local cloud. Loopback only.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";
import { type AppProcess, runStart } from "../support/app-process.ts";
import {
  installInto,
  pack,
  strictTsconfig,
  TSC,
  tarballFiles,
  undeclaredImports,
} from "../support/packages.ts";

const CORE = "@serverless-coordination/core";
const CLIENT = "@serverless-coordination/client";
let dir: string;
let tarballs: Record<string, string>;
let project: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "packages-"));
  const [core, client] = pack(dir, [CORE, CLIENT]);
  tarballs = { [CORE]: core!, [CLIENT]: client! };
  // Only the client, as its users install it (the runtime comes with it as its dependency).
  project = installInto(dir, "user-project", [core!, client!]);
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const node = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, args, {
    cwd: project,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, ...env },
  });

/** Every entry point of both packages, from their manifests. */
const entries = () =>
  [CORE, CLIENT].flatMap((name) =>
    Object.keys(JSON.parse(readFileSync(join(project, "node_modules", name, "package.json"), "utf8")).exports)
      .filter((entry) => entry !== "./package.json")
      .map((entry) => `${name}${entry.slice(1)}`),
  );

/** Imports each module in a plain Node process of the user's project: "ok", or the first error. */
const loads = (modules: string[]) => {
  const script = `for (const name of ${JSON.stringify(modules)}) {
    const module = await import(name);
    if (Object.keys(module).length === 0) throw new Error(name + " exports nothing");
  }
  console.log("ok");`;
  const run = node(["--input-type=module", "-e", script]);
  return run.status === 0 ? run.stdout.trim() : run.stderr;
};

const readmeExample = (name: string) => {
  const readme = readFileSync(join(project, "node_modules", name, "README.md"), "utf8");
  const example = readme.match(/```ts\n([\s\S]*?)```/)?.[1];
  expect(example, `${name}'s README example`).toBeDefined();
  return example!;
};

describe("the runtime and client packages, installed from their tarballs", () => {
  it("hold compiled JavaScript with types, a README, a CHANGELOG and the LICENSE, and nothing else", () => {
    for (const [name, tarball] of Object.entries(tarballs)) {
      const files = tarballFiles(tarball);
      for (const file of files)
        expect(file, name).toMatch(/^(dist\/.+\.(js|d\.ts)|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/);
      for (const wanted of ["README.md", "CHANGELOG.md", "LICENSE"]) expect(files, name).toContain(wanted);
      expect(files.some((file) => file.endsWith(".d.ts"))).toBe(true);
    }
  });

  it("import only their own files, Node's built-ins and the dependencies they declare", () => {
    for (const name of [CORE, CLIENT])
      expect(undeclaredImports(join(project, "node_modules", name)), name).toEqual([]);
  });

  it("the client and the runtime's pure entry points load in plain Node without the AWS SDK", () => {
    expect(loads([CLIENT, `${CORE}/api`, `${CORE}/mesh`, `${CORE}/leases/rules`])).toBe("ok");
  });

  it("install no aws-cdk-lib and no AWS SDK client with the client", () => {
    const modules = readdirSync(join(project, "node_modules"));
    expect(modules).not.toContain("aws-cdk-lib");
    expect(modules).not.toContain("constructs");
    const sdk = existsSync(join(project, "node_modules", "@aws-sdk"))
      ? readdirSync(join(project, "node_modules", "@aws-sdk"))
      : [];
    expect(sdk.filter((name) => name.startsWith("client-") || name === "lib-dynamodb")).toEqual([]);
  });

  describe("the client's README example, against this project's stack on the local cloud", () => {
    let app: AppProcess;
    beforeAll(async () => {
      app = await runStart([]);
    }, 120_000);
    afterAll(() => app?.stop());

    it("type-checks strictly, sets a register, is refused a stale compare-and-set and reads", () => {
      writeFileSync(join(project, "client-example.ts"), readmeExample(CLIENT));
      writeFileSync(join(project, "tsconfig.json"), strictTsconfig(["client-example.ts"]));
      const tsc = node([TSC, "-p", "tsconfig.json"]);
      expect(tsc.stdout + tsc.stderr).toBe("");
      const run = node(["client-example.ts"], { API_URL: app.apiUrl });
      expect(run.stderr).toBe("");
      // $metadata names the request id the local API Gateway gave the request, as AWS's does.
      expect(run.stdout).toMatch(/^set in 1 attempt\(s\), request [0-9a-f-]{36}$/m);
      expect(run.stdout).toContain("refused: VersionConflict");
      expect(run.stdout).toMatch(/\{ key: 'feature-flags', value: \{ dark: true \}, version: 1 \}/);
    }, 60_000);
  });

  describe("with the AWS SDK clients installed (the runtime's optional peers)", () => {
    beforeAll(() => {
      // The versions this project uses, so that npm's cache has them.
      const root = JSON.parse(readFileSync(fromRoot("package.json"), "utf8")).dependencies as Record<
        string,
        string
      >;
      const peers = Object.keys(
        JSON.parse(readFileSync(join(project, "node_modules", CORE, "package.json"), "utf8"))
          .peerDependencies,
      );
      execFileSync(
        "npm",
        [
          "install",
          "--no-audit",
          "--no-fund",
          "--prefer-offline",
          "--no-package-lock",
          ...peers.map((peer) => `${peer}@${root[peer]}`),
        ],
        { cwd: project, stdio: ["ignore", "pipe", "pipe"] },
      );
    }, 300_000);

    it("every entry point loads in plain Node, and nothing else of a package is reachable", () => {
      expect(loads(entries())).toBe("ok");
      for (const hidden of [
        `${CORE}/dist/paxos/proposer.js`,
        `${CORE}/src/paxos/proposer.ts`,
        `${CLIENT}/dist/signing.js`,
      ])
        expect(loads([hidden])).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED");
    });

    it("the runtime's README example type-checks strictly and runs: a register and a compare-and-set", () => {
      writeFileSync(join(project, "core-example.ts"), readmeExample(CORE));
      writeFileSync(join(project, "tsconfig.json"), strictTsconfig(["core-example.ts"]));
      const tsc = node([TSC, "-p", "tsconfig.json"]);
      expect(tsc.stdout + tsc.stderr).toBe("");
      const run = node(["core-example.ts"]);
      expect(run.stderr).toBe("");
      expect(run.stdout.trim()).toBe("2 { mode: 'off' }");
    });
  });
});
