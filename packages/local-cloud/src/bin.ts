#!/usr/bin/env node
/**
 * The `local-cloud` command (options and the start itself: start.ts). Node's compile cache comes first,
 * so that every module after it, compiled or not, loads from V8's code cache on disk
 * (in the system's temporary directory) on later starts: DynamoDB Local's JVM, the longest part of a
 * start, is spawned sooner.
 */
import { enableCompileCache } from "node:module";

enableCompileCache();
await import("./start.ts");
