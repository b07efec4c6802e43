/**
 * A class-data-sharing (AppCDS) archive for DynamoDB Local's JVM: the classes it loads while booting and
 * serving, parsed and verified once, then mapped into memory by every later start instead of being read
 * from ~160 jars again. On this project's 2-core reference machine it takes about 40 % off the JVM's
 * boot, the longest part of a start with nothing changed.
 *
 * Java 17 refuses an archive whose class path has a non-empty directory in it, and DynamoDB Local's jar
 * puts its own directory (`.`) and some native libraries on its class path (manifest `Class-Path`). So
 * the archive is made for a copy of the jar whose class path lists its jars only, kept with the archive
 * under ~/.cache/serverless-coordination/dynamodb-local/<key>; the key covers the jar and the `java` that
 * runs it, and the JVM itself checks the archive against both at each start (a mismatch means an
 * ordinary start, never a wrong one).
 *
 * The archive is built in the background after a start that had none (a JVM of its own, at the lowest
 * CPU priority, exercised with the operations the stack uses, then stopped so that it writes the
 * archive), with the JDK's `jar` tool; without that tool (a JRE only) starts stay as they were. Java
 * crashes at start-up on a damaged archive (even with its default -Xshare:auto), so an archive is
 * installed only once a JVM has mapped it whole, and a start that fails with one sets it aside and
 * starts without it (startDynamoDBLocal).
 * `SC_DYNAMODB_CLASS_ARCHIVE=off` turns it off.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir, setPriority, tmpdir } from "node:os";
import { delimiter, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

const JAR = "DynamoDBLocal.jar";
const LIB = "DynamoDBLocal_lib";
const ARCHIVE = "classes.jsa";
/** A build that held its lock longer than this was interrupted: the lock is taken over. */
const STALE_LOCK_MS = 10 * 60_000;

/**
 * Where a JVM that crashes writes its report: the temporary directory, not the working directory (a
 * user's project), which is Java's default. A damaged archive crashes the JVM that maps it.
 */
export const JVM_CRASH_REPORTS = `-XX:ErrorFile=${join(tmpdir(), "dynamodb-local-hs_err_pid%p.log")}`;

/** How to launch DynamoDB Local's JVM: which jar, with which JVM options. */
export interface DynamoDBLocalLaunch {
  jar: string;
  jvmArgs: string[];
  /** Whether the JVM maps a class archive. */
  archived: boolean;
}

export interface ClassArchiveOptions {
  /** Where archives are kept; ~/.cache/serverless-coordination/dynamodb-local by default. */
  cacheDir?: string;
}

function enabled(): boolean {
  return process.env.SC_DYNAMODB_CLASS_ARCHIVE !== "off";
}

function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "serverless-coordination", "dynamodb-local");
}

/** The real path of a program found on PATH, as a shell would find it. */
function onPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      if (statSync(candidate).isFile()) return realpathSync(candidate);
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** The archive's directory for this emulator jar and this `java`; undefined without a `java` on PATH. */
export function archiveDir(emulatorDir: string, options: ClassArchiveOptions = {}): string | undefined {
  const java = onPath("java");
  if (!java) return undefined;
  const jar = join(emulatorDir, JAR);
  const jarStat = statSync(jar);
  const javaStat = statSync(java);
  const key = createHash("sha256")
    .update(
      [realpathSync(jar), jarStat.size, jarStat.mtimeMs, java, javaStat.size, javaStat.mtimeMs].join("\n"),
    )
    .digest("hex")
    .slice(0, 16);
  return join(options.cacheDir ?? defaultCacheDir(), key);
}

/** The launch of DynamoDB Local: with its class archive when one has been built, else the plain jar. */
export function dynamodbLaunch(emulatorDir: string, options: ClassArchiveOptions = {}): DynamoDBLocalLaunch {
  const plain = { jar: join(emulatorDir, JAR), jvmArgs: [], archived: false };
  if (!enabled()) return plain;
  const dir = archiveDir(emulatorDir, options);
  if (!dir || !existsSync(join(dir, ARCHIVE))) return plain;
  return { jar: join(dir, JAR), jvmArgs: [`-XX:SharedArchiveFile=${join(dir, ARCHIVE)}`], archived: true };
}

/** Sets a broken archive aside (removes it): the next start builds a new one. */
export function discardClassArchive(emulatorDir: string, options: ClassArchiveOptions = {}): void {
  const dir = archiveDir(emulatorDir, options);
  if (dir) rmSync(join(dir, ARCHIVE), { force: true });
}

/**
 * Starts building the archive in a detached process at the lowest CPU priority, when there is none yet,
 * none is being built and the JDK's `jar` tool is there. Returns at once; the process outlives this one.
 */
export function buildClassArchiveInBackground(
  emulatorDir: string,
  options: ClassArchiveOptions = {},
): boolean {
  if (!enabled() || !onPath("jar")) return false;
  const dir = archiveDir(emulatorDir, options);
  if (!dir || existsSync(join(dir, ARCHIVE)) || existsSync(join(dir, "building"))) return false;
  const child = spawn(
    process.execPath,
    [
      // .ts in the sources, .js in the package.
      fileURLToPath(new URL(`./runtime/build-class-archive${extname(import.meta.url)}`, import.meta.url)),
      options.cacheDir ?? "",
    ],
    { detached: true, stdio: "ignore" },
  );
  child.on("error", () => {});
  if (child.pid) {
    try {
      setPriority(child.pid, 19);
    } catch {
      // Lowering a priority is always allowed; if the process is already gone, nothing to do.
    }
  }
  child.unref();
  return true;
}

/**
 * The manifest of the jar copy: DynamoDB Local's own `Class-Path` with only its jars (in their order),
 * folded as the JAR specification wants (72-byte lines, continuations start with a space).
 */
export function classPathManifest(original: string, exists: (entry: string) => boolean): string {
  const unfolded = original.replace(/\r\n/g, "\n").replace(/\n /g, "");
  const line = unfolded.split("\n").find((candidate) => candidate.startsWith("Class-Path:"));
  if (!line) throw new Error("DynamoDB Local's manifest has no Class-Path");
  const jars = line
    .slice("Class-Path:".length)
    .trim()
    .split(/\s+/)
    .filter((entry) => entry.endsWith(".jar") && exists(entry));
  const fold = (text: string) => {
    const lines = [text.slice(0, 72)];
    for (let at = 72; at < text.length; at += 71) lines.push(` ${text.slice(at, at + 71)}`);
    return lines.join("\n");
  };
  return `Manifest-Version: 1.0\n${fold(`Class-Path: ${jars.join(" ")}`)}\n`;
}

/** Runs the JDK's `jar` tool; throws with its output when it fails. */
function jarTool(args: string[], cwd?: string) {
  const result = spawnSync("jar", args, { cwd, encoding: "utf8" });
  if (result.status !== 0)
    throw new Error(`jar ${args.join(" ")}: ${result.stderr || result.stdout || String(result.error)}`);
}

/**
 * Writes the jar copy beside the archive: DynamoDB Local's jar with the class path of its jars only, and
 * its library directory linked beside it (the class path's entries are relative to the jar).
 */
export function writeJarCopy(emulatorDir: string, dir: string): string {
  const jar = join(dir, JAR);
  // Beside the copy's place (one file system), so that the finished copy is moved in by a rename.
  const scratch = mkdtempSync(join(dir, "scratch-"));
  try {
    jarTool(["xf", join(emulatorDir, JAR), "META-INF/MANIFEST.MF"], scratch);
    const manifest = classPathManifest(
      readFileSync(join(scratch, "META-INF", "MANIFEST.MF"), "utf8"),
      (entry) => existsSync(join(emulatorDir, entry)),
    );
    writeFileSync(join(scratch, "manifest.txt"), manifest);
    copyFileSync(join(emulatorDir, JAR), join(scratch, JAR));
    jarTool(["--update", "--file", join(scratch, JAR), "--manifest", join(scratch, "manifest.txt")]);
    rmSync(join(dir, LIB), { force: true });
    symlinkSync(join(emulatorDir, LIB), join(dir, LIB));
    renameSync(join(scratch, JAR), jar);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return jar;
}

/**
 * Builds the archive, unless another process is building it (then answers "busy"). `exercise` runs the
 * recording JVM through the operations whose classes the archive should hold, with its endpoint;
 * `start` starts that JVM with the given launch and answers its endpoint and a stop that waits for it to
 * exit (the archive is written at exit).
 */
export async function buildClassArchive(
  emulatorDir: string,
  start: (launch: DynamoDBLocalLaunch) => Promise<{ endpoint: string; stop(): Promise<void> }>,
  exercise: (endpoint: string) => Promise<void>,
  options: ClassArchiveOptions = {},
): Promise<"built" | "busy" | "present"> {
  const dir = archiveDir(emulatorDir, options);
  if (!dir) throw new Error("no java on PATH");
  if (existsSync(join(dir, ARCHIVE))) return "present";
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, "building");
  try {
    mkdirSync(lock);
  } catch {
    if (Date.now() - statSync(lock).mtimeMs < STALE_LOCK_MS) return "busy";
    rmSync(lock, { recursive: true, force: true });
    mkdirSync(lock);
  }
  try {
    const jar = writeJarCopy(emulatorDir, dir);
    // Written at the JVM's exit under a name of its own, and renamed when complete: a start never maps
    // half an archive.
    const recording = join(lock, ARCHIVE);
    const engine = await start({ jar, jvmArgs: [`-XX:ArchiveClassesAtExit=${recording}`], archived: false });
    try {
      await exercise(engine.endpoint);
    } finally {
      await engine.stop();
    }
    if (!existsSync(recording)) throw new Error("the JVM exited without writing its class archive");
    // Java crashes at start-up on a damaged archive, even when told to fall back (-Xshare:auto): an
    // archive is installed only once a JVM has mapped it whole (-Xshare:on refuses anything less).
    const check = spawnSync(
      "java",
      [
        JVM_CRASH_REPORTS,
        `-XX:SharedArchiveFile=${recording}`,
        "-Xshare:on",
        `-Djava.library.path=${join(emulatorDir, LIB)}`,
        "-jar",
        jar,
        "-help",
      ],
      { stdio: "ignore", timeout: 60_000 },
    );
    if (check.status !== 0)
      throw new Error(
        `the class archive the JVM wrote does not load (java exited ${check.status ?? check.signal})`,
      );
    renameSync(recording, join(dir, ARCHIVE));
    return "built";
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
