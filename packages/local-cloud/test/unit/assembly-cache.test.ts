import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { appSources, cachedAssembly, rememberAssembly, sourceHash } from "../../src/assembly-cache.ts";

describe("the start-up cache of the cloud assembly", () => {
  it("is reused while nothing that feeds it changes, and not after any change", () => {
    const root = mkdtempSync(join(tmpdir(), "assembly-cache-"));
    mkdirSync(join(root, "functions", "api"), { recursive: true });
    writeFileSync(join(root, "functions", "api", "handler.ts"), "export const handler = 1;");
    writeFileSync(join(root, "package-lock.json"), "{}");
    const assembly = join(root, "cdk.out");
    mkdirSync(assembly);
    writeFileSync(join(assembly, "manifest.json"), "{}");

    const key = sourceHash(root);
    expect(cachedAssembly(assembly, key)).toBe(false);
    rememberAssembly(assembly, key);
    expect(cachedAssembly(assembly, sourceHash(root))).toBe(true);

    writeFileSync(join(root, "functions", "api", "handler.ts"), "export const handler = 2;");
    expect(cachedAssembly(assembly, sourceHash(root))).toBe(false);
    writeFileSync(join(root, "functions", "api", "handler.ts"), "export const handler = 1;");
    expect(cachedAssembly(assembly, sourceHash(root))).toBe(true);
    // A new file counts, and so does the lockfile.
    writeFileSync(join(root, "functions", "api", "extra.ts"), "");
    expect(cachedAssembly(assembly, sourceHash(root))).toBe(false);
    rememberAssembly(assembly, sourceHash(root));
    writeFileSync(join(root, "package-lock.json"), '{"lockfileVersion":3}');
    expect(cachedAssembly(assembly, sourceHash(root))).toBe(false);
  });
});

describe("what feeds an app's assembly", () => {
  it("is what its cdk.json's watch settings name, with the CDK and npm configuration, never node_modules", () => {
    const root = mkdtempSync(join(tmpdir(), "assembly-sources-"));
    mkdirSync(join(root, "src"), { recursive: true });
    mkdirSync(join(root, "docs"), { recursive: true });
    mkdirSync(join(root, "node_modules", "dep"), { recursive: true });
    writeFileSync(join(root, "src", "handler.ts"), "1");
    writeFileSync(join(root, "src", "handler.test.ts"), "1");
    writeFileSync(join(root, "docs", "notes.md"), "1");
    writeFileSync(join(root, "node_modules", "dep", "index.js"), "1");
    writeFileSync(join(root, "package.json"), "{}");
    writeFileSync(join(root, "cdk.json"), JSON.stringify({ app: "node app.ts" }));
    // Without watch settings: every file of the app but its dependencies.
    expect(appSources(root)).toEqual([
      "cdk.json",
      "docs/notes.md",
      "package.json",
      "src/handler.test.ts",
      "src/handler.ts",
    ]);
    writeFileSync(
      join(root, "cdk.json"),
      JSON.stringify({ app: "node app.ts", watch: { include: ["src/**"], exclude: ["**/*.test.ts"] } }),
    );
    expect(appSources(root)).toEqual(["cdk.json", "package.json", "src/handler.ts"]);
    const key = sourceHash(root);
    writeFileSync(join(root, "docs", "notes.md"), "2");
    writeFileSync(join(root, "src", "handler.test.ts"), "2");
    expect(sourceHash(root)).toBe(key);
    // The context given on the command line is part of the key.
    expect(sourceHash(root, JSON.stringify({ replicas: "5" }))).not.toBe(key);
    writeFileSync(join(root, "src", "handler.ts"), "2");
    expect(sourceHash(root)).not.toBe(key);
  });
});
