// The constructs' handlers, bundled into the package (dist/handlers/<name>/index.mjs) with the core
// package inside each bundle: a user's project needs no bundler.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { BUNDLE_OPTIONS } from "./src/bundle-options.ts";

const here = import.meta.dirname;
// One bundle per module directly in handlers/ (handlers/api/ holds the Api's route modules).
for (const file of readdirSync(join(here, "handlers")).filter((name) => name.endsWith(".ts"))) {
  const name = file.replace(/\.ts$/, "");
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: { index: join(here, "handlers", file) },
    outdir: join(here, "dist", "handlers", name),
  });
}
