import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cachedAssembly, rememberAssembly, sourceHash } from "../../local/assembly-cache.ts";

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
