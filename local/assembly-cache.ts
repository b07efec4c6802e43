/**
 * `npm start` reuses the cloud assembly of the last start when nothing that feeds it changed: synthesis
 * and bundling are most of a cold start. The key is a hash of the files that feed the assembly (the app's
 * sources, the lockfile, the CDK configuration); any change to one of them synthesizes again.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

/** What feeds this project's cloud assembly, relative to the project root. */
export const ASSEMBLY_SOURCES = [
  "infra",
  "functions",
  "shared",
  "package-lock.json",
  "package.json",
  "cdk.json",
  "tsconfig.json",
];

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => name !== "node_modules")
    .sort()
    .flatMap((name) => files(join(path, name)));
}

/** A hash of the named files and directories under `root` (paths and contents). */
export function sourceHash(root: string, sources: readonly string[] = ASSEMBLY_SOURCES): string {
  const hash = createHash("sha256");
  for (const file of sources.flatMap((source) => files(join(root, source)))) {
    hash.update(relative(root, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return hash.digest("hex");
}

const KEY_FILE = ".source-hash";

/** Whether `assemblyDir` holds an assembly synthesized from sources with this hash. */
export function cachedAssembly(assemblyDir: string, key: string): boolean {
  const path = join(assemblyDir, KEY_FILE);
  return (
    existsSync(join(assemblyDir, "manifest.json")) && existsSync(path) && readFileSync(path, "utf8") === key
  );
}

export function rememberAssembly(assemblyDir: string, key: string): void {
  writeFileSync(join(assemblyDir, KEY_FILE), key);
}
