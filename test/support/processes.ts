/** A process and its descendants, from /proc (Linux): what a stop must leave behind (nothing). */
import { readdirSync, readFileSync } from "node:fs";

/** The pids of a process and all its descendants. */
export function tree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended meanwhile.
    }
  }
  const pids = [root];
  for (let index = 0; index < pids.length; index++) pids.push(...(parents.get(pids[index]!) ?? []));
  return pids;
}

/**
 * Which of `pids` still run, each with its command line. A zombie (exited, not yet reaped by whoever
 * adopted it) runs nothing and holds no socket: it does not count.
 */
export function stillRunning(pids: number[]): string[] {
  return pids.flatMap((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") return [];
      return [`${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")}`];
    } catch {
      return [];
    }
  });
}
