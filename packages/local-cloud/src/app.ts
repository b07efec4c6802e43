/**
 * Any CDK app or cloud assembly, for the local cloud: `--app <dir>` synthesizes the app in <dir> with its
 * own cdk.json (through the app's own CDK CLI, or the one this package depends on; offline), `--assembly <cdk.out>` reads an
 * assembly already synthesized; `--stack <name>` picks a stack when there are several.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { SynthesizedStack } from "./cloud.ts";
import { directEsbuildEnv } from "./direct-esbuild.ts";
import type { CfnTemplate } from "./template.ts";

export class AppError extends Error {}

interface Manifest {
  artifacts?: Record<string, { type: string; displayName?: string; properties?: { templateFile?: string } }>;
}

/**
 * Where an app's assembly goes: under the system's temporary directory, outside any project, so that
 * its functions find only what the local cloud provides (as on Lambda), not the app's node_modules.
 */
export function assemblyDirFor(appDir: string): string {
  const absolute = resolve(appDir);
  const hash = createHash("sha256").update(absolute).digest("hex").slice(0, 12);
  return join(tmpdir(), "serverless-coordination", `${basename(absolute)}-${hash}`, "cdk.out");
}

/** The `cdk synth` command line for the app in `appDir` (its cdk.json says how to run it). */
function synthCommand(appDir: string, outdir: string, context: Record<string, string>) {
  const dir = resolve(appDir);
  if (!existsSync(join(dir, "cdk.json")))
    throw new AppError(`${dir} has no cdk.json: --app takes the directory of a CDK app`);
  // The app's own CLI when it has one (the version it was written for), else this package's.
  const cli = (() => {
    try {
      return createRequire(join(dir, "cdk.json")).resolve("aws-cdk/bin/cdk");
    } catch {
      return createRequire(import.meta.url).resolve("aws-cdk/bin/cdk");
    }
  })();
  const args = [cli, "synth", "--quiet", "--no-notices", "--no-version-reporting", "--output", outdir];
  for (const [key, value] of Object.entries(context)) args.push("-c", `${key}=${value}`);
  return {
    dir,
    args,
    options: {
      cwd: dir,
      env: {
        ...process.env,
        ...directEsbuildEnv(dir),
        CDK_DISABLE_CLI_TELEMETRY: "true",
        CDK_DEFAULT_REGION: "us-east-1",
      },
    },
  };
}

/** Synthesizes the CDK app in `appDir` (its cdk.json says how to run it) into `outdir`. */
export function synthesizeApp(appDir: string, outdir: string, context: Record<string, string> = {}): void {
  const { dir, args, options } = synthCommand(appDir, outdir, context);
  const result = spawnSync(process.execPath, args, { ...options, encoding: "utf8" });
  if (result.status !== 0)
    throw new AppError(
      `cdk synth failed in ${dir}:\n${(result.stderr || result.stdout || String(result.error)).trim()}`,
    );
}

/** synthesizeApp without blocking this process (--watch: the local cloud keeps serving meanwhile). */
export function synthesizeAppInBackground(
  appDir: string,
  outdir: string,
  context: Record<string, string> = {},
): Promise<void> {
  const { dir, args, options } = synthCommand(appDir, outdir, context);
  return new Promise((resolvePromise, reject) => {
    let output = "";
    const child = spawn(process.execPath, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolvePromise() : reject(new AppError(`cdk synth failed in ${dir}:\n${output.trim()}`)),
    );
  });
}

/** The stacks of a cloud assembly. */
export function listStacks(assemblyDir: string): Array<{ stackName: string; templateFile: string }> {
  const path = join(assemblyDir, "manifest.json");
  if (!existsSync(path)) throw new AppError(`${assemblyDir} is not a cloud assembly (no manifest.json)`);
  const manifest = JSON.parse(readFileSync(path, "utf8")) as Manifest;
  return Object.entries(manifest.artifacts ?? {})
    .filter(([, artifact]) => artifact.type === "aws:cloudformation:stack")
    .map(([id, artifact]) => ({
      stackName: id,
      templateFile: artifact.properties?.templateFile ?? `${id}.template.json`,
    }));
}

/** One stack of an assembly: the one named, or the only one. */
export function readStack(assemblyDir: string, stackName?: string): SynthesizedStack {
  const stacks = listStacks(assemblyDir);
  const names = stacks.map((stack) => stack.stackName).join(", ") || "none";
  const chosen =
    stackName === undefined
      ? stacks.length === 1
        ? stacks[0]
        : undefined
      : stacks.find((stack) => stack.stackName === stackName);
  if (!chosen)
    throw new AppError(
      stackName === undefined
        ? `the assembly has ${stacks.length} stacks (${names}): pick one with --stack <name>`
        : `the assembly has no stack ${stackName} (it has: ${names})`,
    );
  const template = JSON.parse(readFileSync(join(assemblyDir, chosen.templateFile), "utf8")) as CfnTemplate;
  return { stackName: chosen.stackName, assemblyDir, template };
}
