/**
 * The code of the constructs' own functions. The package ships them pre-built (dist/handlers/<name>, one
 * ESM bundle each, the AWS SDK left to Lambda's runtime), as aws-cdk-lib ships its custom resources'
 * handlers: a user's project needs no bundler. From this repository's sources (no build yet) the bundle
 * is written on first use with the workspace's esbuild, the same way.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code } from "aws-cdk-lib/aws-lambda";
import { BUNDLE_OPTIONS } from "./bundle-options.ts";

export type HandlerName = "relay" | "outbox-replay" | "acceptor" | "api" | "replica" | "replicator";

const built = new Map<HandlerName, string>();

export function handlerCode(name: HandlerName): Code {
  const packaged = fileURLToPath(new URL(`./handlers/${name}`, import.meta.url));
  if (existsSync(join(packaged, "index.mjs"))) return Code.fromAsset(packaged);
  let dir = built.get(name);
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), `sc-handler-${name}-`));
    const esbuild = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
    esbuild.buildSync({
      ...BUNDLE_OPTIONS,
      entryPoints: { index: fileURLToPath(new URL(`../handlers/${name}.ts`, import.meta.url)) },
      outdir: dir,
    });
    built.set(name, dir);
  }
  return Code.fromAsset(dir);
}
