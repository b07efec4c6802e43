/**
 * Synthesis of a CDK app in this process (a host that builds its stack in code, e.g. its tests). Apart from cloud.ts so that a start that
 * reuses its assembly (nothing that feeds it changed) never loads aws-cdk-lib, about half a second of
 * this process's start.
 */
import { App, type Stack } from "aws-cdk-lib";
import type { SynthesizedStack } from "./cloud.ts";
import { directEsbuildEnv } from "./direct-esbuild.ts";
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

/** Runs `synth` with shims/npx first on PATH (direct-esbuild.ts). */
function withDirectEsbuild<T>(synth: () => T): T {
  const vars = directEsbuildEnv(process.cwd());
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return synth();
  } finally {
    for (const [name, value] of Object.entries(saved))
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  }
}
