import { fileURLToPath } from "node:url";

/** Absolute path of a file of this repository, so synthesis works from any working directory. */
export function fromRoot(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}
