/**
 * The packages' layering and the demo's boundary, read from the sources' import statements: a package
 * imports only the packages below it, nothing reaches into another package's files, the demo app uses
 * only the packages' public entry points, and no module graph has a cycle.
 */
import { globSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { fromRoot } from "../../infra/paths.ts";

const PACKAGES = {
  core: { dir: "packages/core", below: [] as string[] },
  client: { dir: "packages/client", below: ["core"] },
  // The constructs' handlers bundle core at build time; the constructs themselves import no package.
  cdk: { dir: "packages/cdk", below: ["core"] },
  "local-cloud": { dir: "packages/local-cloud", below: [] as string[] },
} as const;
type PackageName = keyof typeof PACKAGES;

/** The demo app and the example: users of the packages, through their entry points only. */
const USERS = ["functions", "infra", "bench", "examples/orders"];

const SPECIFIERS =
  /(?:^|\n)\s*(?:import|export)(?:\s+type)?[^"'`;]*?\sfrom\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(SPECIFIERS)) found.push((match[1] ?? match[2] ?? match[3])!);
  return found;
}

function sources(dir: string): string[] {
  return globSync("**/*.ts", {
    cwd: fromRoot(dir),
    exclude: (name) => ["node_modules", "dist", "cdk.out", ".local"].includes(String(name)),
  }).map((file) => join(dir, file));
}

function exportsOf(name: PackageName): Set<string> {
  const manifest = JSON.parse(readFileSync(fromRoot(join(PACKAGES[name].dir, "package.json")), "utf8"));
  return new Set(
    Object.keys(manifest.exports).map((key) => `@serverless-coordination/${name}${key.slice(1)}`),
  );
}

/** Where a package's own import may not go: another package's files, a package above it, a deep path. */
function packageViolations(name: PackageName): string[] {
  const { dir, below } = PACKAGES[name];
  const wrong: string[] = [];
  for (const file of [...sources(`${dir}/src`), ...sources(`${dir}/handlers`)]) {
    for (const specifier of importsOf(readFileSync(fromRoot(file), "utf8"))) {
      if (specifier.startsWith(".")) {
        const target = relative(fromRoot(dir), resolve(dirname(fromRoot(file)), specifier));
        if (target.startsWith("..")) wrong.push(`${file}: ${specifier} leaves ${dir}`);
        continue;
      }
      const match = /^@serverless-coordination\/([^/]+)/.exec(specifier);
      if (!match) continue;
      const other = match[1] as PackageName;
      if (!(below as readonly string[]).includes(other))
        wrong.push(`${file}: ${specifier} is not below ${name}`);
      else if (!exportsOf(other).has(specifier)) wrong.push(`${file}: ${specifier} is not an entry point`);
    }
  }
  return wrong;
}

/** Where the demo or the example reaches past an entry point. */
function userViolations(dir: string): string[] {
  const entryPoints = new Set(
    (Object.keys(PACKAGES) as PackageName[]).flatMap((name) => [...exportsOf(name)]),
  );
  const wrong: string[] = [];
  for (const file of sources(dir)) {
    for (const specifier of importsOf(readFileSync(fromRoot(file), "utf8"))) {
      if (specifier.startsWith(".")) {
        const target = relative(fromRoot("."), resolve(dirname(fromRoot(file)), specifier));
        if (target.startsWith("packages/") || target.startsWith("..")) wrong.push(`${file}: ${specifier}`);
      } else if (specifier.startsWith("@serverless-coordination/") && !entryPoints.has(specifier)) {
        wrong.push(`${file}: ${specifier} is not an entry point`);
      }
    }
  }
  return wrong;
}

/** Every cycle of relative imports among `files` (type-only imports count: they couple as much). */
function importCycles(files: Map<string, string>): string[][] {
  const edges = new Map<string, string[]>();
  for (const [file, text] of files) {
    edges.set(
      file,
      importsOf(text)
        .filter((specifier) => specifier.startsWith("."))
        .map((specifier) => join(dirname(file), specifier))
        .filter((target) => files.has(target)),
    );
  }
  // Tarjan's strongly connected components: any component of more than one module is a cycle.
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    order.set(file, index);
    low.set(file, index++);
    stack.push(file);
    onStack.add(file);
    for (const next of edges.get(file) ?? []) {
      if (!order.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, order.get(next)!));
      }
    }
    if (low.get(file) === order.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || edges.get(file)!.includes(file)) cycles.push(component.sort());
    }
  };
  for (const file of files.keys()) if (!order.has(file)) visit(file);
  return cycles;
}

describe("layering", () => {
  for (const name of Object.keys(PACKAGES) as PackageName[]) {
    it(`${name} imports only its own files and the entry points of the packages below it`, () => {
      expect(packageViolations(name)).toEqual([]);
    });
  }

  it("the demo app and the example import only the packages' public entry points", () => {
    expect(USERS.flatMap(userViolations)).toEqual([]);
  });

  it("no import cycle in any package or in the demo", () => {
    const files = new Map<string, string>();
    for (const dir of [...Object.values(PACKAGES).map((p) => p.dir), ...USERS])
      for (const file of sources(dir)) files.set(file, readFileSync(fromRoot(file), "utf8"));
    expect(importCycles(files)).toEqual([]);
  });

  // The checks above are only as good as what they see: each must catch a planted violation.
  it("the checks catch a deep import, an upward import and a cycle", () => {
    expect(importsOf(`import { x } from "../../packages/core/src/paxos/proposer.ts";`)).toEqual([
      "../../packages/core/src/paxos/proposer.ts",
    ]);
    expect(importsOf(`import type {\n  A,\n  B,\n} from "@serverless-coordination/core/paxos";`)).toEqual([
      "@serverless-coordination/core/paxos",
    ]);
    expect(
      importsOf(`export * from "./a.ts";\nconst m = await import("./b.ts");\nimport "./c.ts";`).sort(),
    ).toEqual(["./a.ts", "./b.ts", "./c.ts"]);
    expect(
      importCycles(
        new Map([
          ["p/a.ts", `import { b } from "./b.ts";`],
          ["p/b.ts", `import type { C } from "./q/c.ts";`],
          ["p/q/c.ts", `import { a } from "../a.ts";`],
          ["p/d.ts", `import { a } from "./a.ts";`],
        ]),
      ),
    ).toEqual([["p/a.ts", "p/b.ts", "p/q/c.ts"]]);
    expect(exportsOf("core").has("@serverless-coordination/core/paxos")).toBe(true);
    expect(exportsOf("core").has("@serverless-coordination/core/src/paxos/proposer.ts")).toBe(false);
  });
});
