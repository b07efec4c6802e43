/**
 * The workspace's packages as a user gets them: `npm pack` (prepack builds each), installed from the
 * tarballs into a fresh project under the system's temporary directory, never through the workspace's
 * links. Installs come from npm's cache when it holds the dependencies (--prefer-offline).
 */
import { execFileSync } from "node:child_process";
import { cpSync, globSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fromRoot } from "../../infra/paths.ts";

/** Packs each named workspace into `dir`; answers the tarballs' paths, in order. */
export function pack(dir: string, names: string[]): string[] {
  const packed = JSON.parse(
    execFileSync(
      "npm",
      ["pack", "--json", "--pack-destination", dir, ...names.flatMap((name) => ["-w", name])],
      {
        cwd: fromRoot("."),
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    ),
  ) as Array<{ name: string; filename: string }>;
  return names.map((name) => join(dir, packed.find((entry) => entry.name === name)!.filename));
}

/** A copy of the fixture user project in `dir`/`name`, with the tarballs installed: its path. */
export function installInto(dir: string, name: string, tarballs: string[]): string {
  const project = join(dir, name);
  cpSync(fromRoot("test/fixtures/package-user"), project, { recursive: true });
  execFileSync(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock", ...tarballs],
    {
      cwd: project,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return project;
}

/** The files of a tarball, without the "package/" prefix. */
export function tarballFiles(tarball: string): string[] {
  return execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((file) => file.replace(/^package\//, ""));
}

/**
 * Every module specifier the installed package's compiled files import that is neither one of its own
 * files, nor Node's, nor a dependency it declares: what a user's install could not resolve.
 */
export function undeclaredImports(installed: string): string[] {
  const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  const declared = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const specifiers =
    /(?:^|\n)\s*(?:import|export)[^"'\n]*?from\s+["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)/g;
  const wrong: string[] = [];
  for (const file of globSync("dist/**/*.{js,mjs}", { cwd: installed })) {
    const text = readFileSync(join(installed, file), "utf8");
    for (const match of text.matchAll(specifiers)) {
      const specifier = (match[1] ?? match[2])!;
      if (specifier.startsWith(".")) {
        if (!resolve(dirname(join(installed, file)), specifier).startsWith(join(installed, "dist")))
          wrong.push(`${file}: ${specifier}`);
        continue;
      }
      const bare = specifier.replace(/^node:/, "");
      if (builtinModules.includes(bare) || builtinModules.includes(bare.split("/")[0]!)) continue;
      const pkg = specifier.startsWith("@")
        ? specifier.split("/").slice(0, 2).join("/")
        : specifier.split("/")[0]!;
      if (!declared.has(pkg)) wrong.push(`${file}: ${specifier}`);
    }
  }
  return wrong;
}

/** A strict, nodenext tsconfig (declaration files checked too) for `files` of a user's project. */
export function strictTsconfig(files: string[]): string {
  return JSON.stringify({
    compilerOptions: {
      strict: true,
      module: "nodenext",
      moduleResolution: "nodenext",
      target: "es2022",
      lib: ["es2023"],
      noEmit: true,
      skipLibCheck: false,
      types: ["node"],
      typeRoots: [fromRoot("node_modules/@types")],
    },
    files,
  });
}

export const TSC = fromRoot("node_modules/typescript/bin/tsc");
