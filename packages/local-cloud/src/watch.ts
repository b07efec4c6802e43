/**
 * `npm start -- --watch`: a changed source file re-synthesizes the app (in a child process: the local
 * cloud keeps serving meanwhile), and each function whose code or handler changed gets its new code: its
 * environments finish what they run and are replaced. The engines, tables, queues and their data stay.
 * Any other change of the template (a table, a queue, a route, a function's settings) is named, to apply
 * with a restart.
 */
import { type FSWatcher, watch } from "node:fs";
import { relative, sep } from "node:path";
import { codeOf, type LocalFunction } from "./functions.ts";
import type { CfnResource } from "./template.ts";

type Resources = Record<string, CfnResource>;

/** A function's resource without what changes with its code (asset hash and path, inline code, handler). */
function withoutCode(resource: CfnResource): string {
  const { Code: _, Handler: __, ...properties } = resource.Properties ?? {};
  const metadata = Object.fromEntries(
    Object.entries(resource.Metadata ?? {}).filter(([key]) => !key.startsWith("aws:asset:")),
  );
  return JSON.stringify({ ...resource, Properties: properties, Metadata: metadata });
}

const codeIdentity = (resource: CfnResource) =>
  JSON.stringify([
    resource.Metadata?.["aws:asset:path"],
    (resource.Properties?.Code as { ZipFile?: unknown } | undefined)?.ZipFile,
    resource.Properties?.Handler,
  ]);

export interface Reload {
  /** Functions given new code, by id. */
  reloaded: string[];
  /** Logical ids of other changes, which need a restart. */
  needRestart: string[];
}

/** Gives each function whose code changed between two templates its new code. */
export function reloadFunctions(
  functions: LocalFunction[],
  before: Resources,
  after: Resources,
  assemblyDir: string,
  workDir: string,
): Reload {
  const reloaded: string[] = [];
  const needRestart = new Set<string>();
  for (const id of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const old = before[id];
    const now = after[id];
    if (!old || !now) {
      needRestart.add(id);
      continue;
    }
    if (old.Type === "AWS::Lambda::Function" && now.Type === old.Type) {
      if (withoutCode(old) !== withoutCode(now)) needRestart.add(id);
      if (codeIdentity(old) === codeIdentity(now)) continue;
      const fn = functions.find((candidate) => candidate.logicalId === id);
      if (!fn) continue;
      const props = now.Properties ?? {};
      fn.replaceCode(
        codeOf(id, now.Metadata, props, assemblyDir, workDir),
        typeof props.Handler === "string" ? props.Handler : "index.handler",
      );
      reloaded.push(fn.id);
    } else if (JSON.stringify(old) !== JSON.stringify(now)) needRestart.add(id);
  }
  return { reloaded, needRestart: [...needRestart] };
}

/** Directories a change in which is not a source change. */
const IGNORED = new Set(["node_modules", "cdk.out", ".local", ".git", ".scratch"]);

/**
 * Calls `onChange` with the changed files once changes under `dir` have settled for `settleMs`; never
 * twice at once (changes during a run make one more run after it). Stop it with the returned function.
 */
export function watchSources(
  dir: string,
  onChange: (files: string[]) => Promise<void>,
  settleMs = 300,
  ignore: (path: string) => boolean = () => false,
): () => void {
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  const run = async () => {
    if (running || pending.size === 0) return;
    running = true;
    const files = [...pending];
    pending = new Set();
    try {
      await onChange(files);
    } finally {
      running = false;
      if (pending.size > 0) timer = setTimeout(run, settleMs);
    }
  };
  const watcher: FSWatcher = watch(dir, { recursive: true }, (_event, file) => {
    if (!file) return;
    const path = String(file);
    if (path.split(sep).some((part) => IGNORED.has(part)) || ignore(path)) return;
    pending.add(relative(dir, `${dir}${sep}${path}`) || path);
    clearTimeout(timer);
    timer = setTimeout(run, settleMs);
  });
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
