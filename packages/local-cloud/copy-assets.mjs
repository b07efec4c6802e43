// The files of the package that tsc does not emit: the execution environments' modules, the console's
// page and script, and the npx shim (executable).
import { chmodSync, cpSync, globSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dirname;
for (const file of globSync(["runtime/*.{mjs,py}", "console/*.{html,js}", "shims/*"], {
  cwd: join(here, "src"),
}))
  cpSync(join(here, "src", file), join(here, "dist", file));
chmodSync(join(here, "dist", "shims", "npx"), 0o755);
chmodSync(join(here, "dist", "bin.js"), 0o755);
