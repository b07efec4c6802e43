/**
 * NodejsFunction bundles each function with `npx --no-install esbuild ...`, and npx takes about half a
 * second to start. While the local cloud synthesizes, shims/npx comes first on PATH and runs the app's own
 * esbuild directly with the same arguments (same binary, same arguments, same bundle: the asset hashes do
 * not change); anything else goes to the real npx.
 */
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SHIM_DIR = fileURLToPath(new URL("./shims", import.meta.url));

/** The nearest node_modules/.bin at or above `dir` that holds esbuild (workspaces hoist it). */
function projectBin(dir: string): string | undefined {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const bin = join(at, "node_modules", ".bin");
    if (existsSync(join(bin, "esbuild"))) return bin;
    if (dirname(at) === at) return undefined;
  }
}

/** The environment variables that put the shim first for a synthesis of the app in `appDir`, or none. */
export function directEsbuildEnv(appDir: string, path = process.env.PATH ?? ""): Record<string, string> {
  const bin = projectBin(appDir);
  const realNpx = path
    .split(delimiter)
    .filter((dir) => dir && dir !== SHIM_DIR)
    .map((dir) => join(dir, "npx"))
    .find((file) => {
      try {
        accessSync(file, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  if (process.platform === "win32" || !realNpx || !bin) return {};
  return { PATH: `${SHIM_DIR}${delimiter}${path}`, SC_REAL_NPX: realNpx, SC_PROJECT_BIN: bin };
}
