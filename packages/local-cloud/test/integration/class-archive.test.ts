/**
 * DynamoDB Local's class archive (class-archive.ts), built and used for real: the JDK's `jar` tool
 * and JVM, in a cache directory of the test's own.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildClassArchive, dynamodbLaunch } from "../../src/class-archive.ts";
import { emulatorDir, exerciseDynamoDB, startDynamoDBLocal } from "../../src/engines.ts";

const hasJarTool = spawnSync("jar", ["--version"]).status === 0;
/** The crash reports a JVM writes into its working directory unless told where (a user's project). */
const crashReportsHere = () => readdirSync(process.cwd()).filter((name) => /^hs_err_pid\d+\.log$/.test(name));

describe.runIf(hasJarTool)("DynamoDB Local's class archive", () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "class-archive-"));
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));
  const build = () =>
    buildClassArchive(
      emulatorDir(),
      (launch) => startDynamoDBLocal({ launch, stopGraceMs: 60_000 }),
      exerciseDynamoDB,
      { cacheDir },
    );

  it("is built once, by one builder at a time", async () => {
    expect(dynamodbLaunch(emulatorDir(), { cacheDir }).archived).toBe(false);
    const outcomes = await Promise.all([build(), build()]);
    expect(outcomes.sort()).toEqual(["built", "busy"]);
    expect(await build()).toBe("present");
  }, 120_000);

  it("is mapped by the next start, which serves writes, transactions and streams", async () => {
    const launch = dynamodbLaunch(emulatorDir(), { cacheDir });
    expect(launch.archived).toBe(true);
    // -Xshare:on: the JVM refuses to start unless it maps the archive (Java's default falls back).
    const engine = await startDynamoDBLocal({
      launch: { ...launch, jvmArgs: [...launch.jvmArgs, "-Xshare:on"] },
    });
    try {
      expect(engine.classArchive).toBe("mapped");
      await exerciseDynamoDB(engine.endpoint);
    } finally {
      await engine.stop();
    }
  }, 60_000);

  it("is never installed when the JVM left it incomplete (a JVM killed while writing it)", async () => {
    const reportsBefore = crashReportsHere();
    const elsewhere = mkdtempSync(join(tmpdir(), "class-archive-"));
    try {
      const outcome = buildClassArchive(
        emulatorDir(),
        async (launch) => {
          const engine = await startDynamoDBLocal({ launch, stopGraceMs: 60_000 });
          const recording = launch.jvmArgs[0]!.slice("-XX:ArchiveClassesAtExit=".length);
          return {
            endpoint: engine.endpoint,
            stop: async () => {
              await engine.stop();
              // What a JVM killed halfway through writing leaves: the start of an archive.
              truncateSync(recording, 1_000_000);
            },
          };
        },
        exerciseDynamoDB,
        { cacheDir: elsewhere },
      );
      await expect(outcome).rejects.toThrow(/class archive/);
      // Java crashes at start-up on a truncated archive, even when told to fall back (-Xshare:auto).
      expect(dynamodbLaunch(emulatorDir(), { cacheDir: elsewhere }).archived).toBe(false);
      // The check's crash leaves no report in the working directory.
      expect(crashReportsHere()).toEqual(reportsBefore);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  }, 120_000);

  it("is set aside when it was damaged after it was built, and the engine starts without it", async () => {
    const launch = dynamodbLaunch(emulatorDir(), { cacheDir });
    expect(launch.archived).toBe(true);
    truncateSync(launch.jvmArgs[0]!.slice("-XX:SharedArchiveFile=".length), 1_000_000);
    const reportsBefore = crashReportsHere();
    const engine = await startDynamoDBLocal({ classArchive: { cacheDir } });
    try {
      expect(engine.classArchive).toBe("none");
      await exerciseDynamoDB(engine.endpoint);
    } finally {
      await engine.stop();
    }
    expect(dynamodbLaunch(emulatorDir(), { cacheDir }).archived).toBe(false);
    // The crashed start leaves no report in the working directory.
    expect(crashReportsHere()).toEqual(reportsBefore);
  }, 60_000);

  it("is not used when turned off", () => {
    process.env.SC_DYNAMODB_CLASS_ARCHIVE = "off";
    try {
      expect(dynamodbLaunch(emulatorDir(), { cacheDir }).archived).toBe(false);
    } finally {
      delete process.env.SC_DYNAMODB_CLASS_ARCHIVE;
    }
  });
});
