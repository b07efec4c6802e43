import { globSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { defineConfig } from "vitest/config";

const SOURCE = "serverless-coordination:source";

/**
 * The workspace's packages from their sources (their exports' "serverless-coordination:source"
 * condition): no build between an edit and a test, in every environment Vitest runs modules in (the
 * global setup's too). Their compiled form is tested from packed tarballs.
 */
const sources = globSync("packages/*/package.json", { cwd: import.meta.dirname }).flatMap((file) => {
  const manifest = JSON.parse(readFileSync(join(import.meta.dirname, file), "utf8")) as {
    name: string;
    exports: Record<string, string | Record<string, string>>;
  };
  return Object.entries(manifest.exports).flatMap(([entry, target]) =>
    typeof target === "object" && target[SOURCE]
      ? [
          {
            find: new RegExp(`^${manifest.name}${entry.slice(1)}$`.replaceAll("/", "\\/")),
            replacement: resolve(import.meta.dirname, dirname(file), target[SOURCE]),
          },
        ]
      : [],
  );
});

export default defineConfig({
  resolve: { alias: sources },
  test: {
    include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    pool: "forks",
    // One file at a time: a local cloud runs many functions of its own, and two of them on two cores
    // turn cold starts into replica timeouts that have nothing to do with the code under test.
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
