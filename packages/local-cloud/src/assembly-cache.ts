/**
 * A start reuses the cloud assembly of the last start when nothing that feeds it changed: synthesis and
 * bundling are most of a cold start. The key is a hash of the files that feed the assembly (the app's
 * sources as its cdk.json's `watch` settings name them, or every file of the app when it names none; the
 * lockfile and the CDK configuration always) and of the context given on the command line; any change to
 * one of them synthesizes again.
 */
import { createHash } from "node:crypto";
import { existsSync, globSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** Directories whose files never feed an assembly (dependencies, outputs, the local cloud's data). */
const NEVER = new Set(["node_modules", "cdk.out", ".local", ".git"]);

/** Files that always feed an app's assembly when they exist. */
const ALWAYS = ["cdk.json", "cdk.context.json", "package.json", "package-lock.json", "tsconfig.json"];

/**
 * The files under `appDir` that feed its assembly, relative to it and sorted: its cdk.json's
 * `watch.include` globs minus `watch.exclude` (as `cdk watch` reads them), or every file when it names
 * none, never those under node_modules, cdk.out, .local or .git.
 */
export function appSources(appDir: string): string[] {
  const config = existsSync(join(appDir, "cdk.json"))
    ? (JSON.parse(readFileSync(join(appDir, "cdk.json"), "utf8")) as {
        watch?: { include?: string | string[]; exclude?: string | string[] };
      })
    : {};
  const list = (value: string | string[] | undefined) =>
    value === undefined ? [] : Array.isArray(value) ? value : [value];
  const include = list(config.watch?.include);
  const excluded = list(config.watch?.exclude);
  const never = (path: string) => path.split(sep).some((part) => NEVER.has(part));
  const excludedFiles = new Set(
    excluded.flatMap((pattern) => globSync(pattern, { cwd: appDir, exclude: never })),
  );
  const found = globSync(include.length ? include : ["**"], {
    cwd: appDir,
    exclude: never,
  }).filter((path) => !excludedFiles.has(path) && statSync(join(appDir, path)).isFile());
  return [...new Set([...found, ...ALWAYS.filter((file) => existsSync(join(appDir, file)))])].sort();
}

/** A hash of the files under `root` that feed its assembly (paths and contents), and of `extra`. */
export function sourceHash(root: string, extra = ""): string {
  const hash = createHash("sha256").update(extra).update("\0");
  for (const file of appSources(root)) {
    hash
      .update(relative(root, join(root, file)))
      .update("\0")
      .update(readFileSync(join(root, file)))
      .update("\0");
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
