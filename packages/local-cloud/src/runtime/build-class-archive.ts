// Builds DynamoDB Local's class archive (see class-archive.ts) in a process of its own, started
// detached and at the lowest CPU priority after a start that had no archive. Argument: the cache
// directory ("" for the default). Gives up after two minutes.
import { buildClassArchive } from "../class-archive.ts";
import { emulatorDir, exerciseDynamoDB, startDynamoDBLocal } from "../engines.ts";

const cacheDir = process.argv[2] || undefined;
setTimeout(() => process.exit(1), 120_000).unref();
try {
  await buildClassArchive(
    emulatorDir(),
    (launch) => startDynamoDBLocal({ launch, stopGraceMs: 60_000 }),
    exerciseDynamoDB,
    { cacheDir },
  );
  process.exit(0);
} catch {
  process.exit(1);
}
