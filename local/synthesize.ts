/**
 * Synthesis of a CDK app in this process, for the local cloud. Apart from cloud.ts so that a start that
 * reuses its assembly (nothing that feeds it changed) never loads aws-cdk-lib, about half a second of
 * this process's start.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { App, type Stack } from "aws-cdk-lib";
import type { SynthesizedStack } from "./cloud.ts";
import type { CfnTemplate } from "./template.ts";

/** Synthesizes one stack of an app (bundling every function with esbuild) into `outdir`. */
export function synthesizeStack(build: (app: App) => Stack, outdir: string): SynthesizedStack {
  // The CLI turns these on; the local cloud needs them to find each function's bundle and construct id.
  const app = new App({
    outdir,
    // CloudFormation's template rules (2-3 s of WebAssembly per synthesis) are for what deploys: `cdk
    // synth` and `cdk deploy` run them. The local cloud runs the template as it is.
    builtinCloudFormationValidation: false,
    context: { "aws:cdk:enable-asset-metadata": true, "aws:cdk:enable-path-metadata": true },
  });
  // Assets bundle as their constructs are created.
  const { stack, assembly } = withDirectEsbuild(() => {
    const stack = build(app);
    return { stack, assembly: app.synth() };
  });
  const artifact = assembly.getStackByName(stack.stackName);
  return {
    stackName: stack.stackName,
    assemblyDir: assembly.directory,
    template: artifact.template as CfnTemplate,
  };
}

/**
 * Runs `synth` with local/bin first on PATH: its `npx` runs `npx --no-install esbuild ...` (NodejsFunction's
 * bundling command, once per function) as this project's esbuild directly, saving npx's half-second start
 * each time. Same binary, same arguments, same bundle: the asset hashes (of the output) do not change.
 */
function withDirectEsbuild<T>(synth: () => T): T {
  const shimDir = fileURLToPath(new URL("./bin", import.meta.url));
  const path = process.env.PATH ?? "";
  const realNpx = path
    .split(delimiter)
    .filter((dir) => dir && dir !== shimDir)
    .map((dir) => join(dir, "npx"))
    .find((file) => {
      try {
        accessSync(file, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  if (process.platform === "win32" || !realNpx) return synth();
  const saved = {
    PATH: process.env.PATH,
    SC_REAL_NPX: process.env.SC_REAL_NPX,
    SC_PROJECT_BIN: process.env.SC_PROJECT_BIN,
  };
  Object.assign(process.env, {
    PATH: `${shimDir}${delimiter}${path}`,
    SC_REAL_NPX: realNpx,
    SC_PROJECT_BIN: fileURLToPath(new URL("../node_modules/.bin", import.meta.url)),
  });
  try {
    return synth();
  } finally {
    for (const [name, value] of Object.entries(saved))
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  }
}
