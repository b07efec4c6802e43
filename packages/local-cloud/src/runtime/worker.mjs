// One Lambda execution environment: loads a function's bundled module once and runs one invocation at a
// time. Plain JavaScript because it runs the same bundle that deploys, with no TypeScript loader.
import { existsSync, readFileSync } from "node:fs";
import * as nodeModule from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parentPort, workerData } from "node:worker_threads";
import { PROVIDED } from "./provided-sdk.mjs";

// The SDK Lambda's runtime provides: resolved from the local cloud's own dependencies when the bundle's
// directory has no copy. ES modules go through resolution hooks: in this thread where Node has them
// (registerHooks, Node 22.15+), else on the loader thread `register` starts (slower: every import of
// the environment crosses threads). CommonJS goes through the resolver.
if (typeof nodeModule.registerHooks === "function") {
  nodeModule.registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        if (!PROVIDED.test(specifier)) throw error;
        return nextResolve(specifier, { ...context, parentURL: import.meta.url });
      }
    },
  });
} else {
  nodeModule.register("./provided-sdk.mjs", import.meta.url, { data: { parentURL: import.meta.url } });
}
// V8's code cache on disk (Node's compile cache: the local cloud's, else in the system's temporary
// directory): an environment that loads a bundle an earlier one compiled skips most of the compiling.
nodeModule.enableCompileCache?.(workerData.compileCacheDir);
const Module = nodeModule.default;
const providedRequire = nodeModule.createRequire(import.meta.url);
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  try {
    return resolveFilename.call(this, request, ...rest);
  } catch (error) {
    if (!PROVIDED.test(request)) throw error;
    return providedRequire.resolve(request);
  }
};

// An environment started for its function knows it from the start (workerData.function). One booted
// ahead of it (RuntimePool in functions.ts, while the engines start) first loads the SDK packages its
// bundle imports, which Lambda's runtime provides, then waits for its function: name, handler and
// environment variables. Either way the function's own init (its module) runs only once those are set.
let fn = workerData.function;
const { promise: assigned, resolve: assign } = Promise.withResolvers();

/** The provided SDK packages a bundle's entry file imports (`from "@aws-sdk/..."`, `import("...")`). */
function providedImports(file) {
  const text = readFileSync(file, "utf8");
  const found = new Set();
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)["']([^"']+)["']/g)) {
    if (PROVIDED.test(match[1])) found.add(match[1]);
  }
  return [...found];
}

function entryOf(codeDir, handlerSpec) {
  const file = handlerSpec.slice(0, handlerSpec.lastIndexOf("."));
  return [".mjs", ".js", ".cjs"].map((ext) => join(codeDir, file + ext)).find((path) => existsSync(path));
}

async function loadHandler() {
  if (!fn) {
    try {
      const { codeDir, handler } = workerData.boot;
      const entry = entryOf(codeDir, handler);
      // Only ES module bundles: a CommonJS one would require its own (CommonJS) copies.
      if (entry?.endsWith(".mjs"))
        await Promise.all(providedImports(entry).map((specifier) => import(specifier).catch(() => {})));
    } catch {
      // Loading ahead is only a head start: the function's init loads what it needs itself.
    }
    const given = await assigned;
    for (const key of Object.keys(process.env)) delete process.env[key];
    Object.assign(process.env, given.env);
    fn = given.function;
  }
  // --inspect: before the function's module loads, so that a debugger can stop in its init too.
  if (fn.inspectPort) (await import("node:inspector")).open(fn.inspectPort, "127.0.0.1");
  const handlerSpec = fn.handler;
  const dot = handlerSpec.lastIndexOf(".");
  const file = handlerSpec.slice(0, dot);
  const exportName = handlerSpec.slice(dot + 1);
  const path = entryOf(fn.codeDir, handlerSpec);
  if (!path)
    throw Object.assign(new Error(`Cannot find module '${file}'`), { name: "Runtime.ImportModuleError" });
  const module = await import(pathToFileURL(path).href);
  const handler = module[exportName] ?? module.default?.[exportName];
  if (typeof handler !== "function") {
    throw Object.assign(new Error(`${handlerSpec} is undefined or not exported`), {
      name: "Runtime.HandlerNotFound",
    });
  }
  return handler;
}

const handlerPromise = loadHandler();
// Keep a failed import from surfacing as an unhandled rejection before the first invocation.
handlerPromise.catch(() => {});
// Tell the environment's owner when the module is loaded (or failed to): the end of the cold start.
handlerPromise.then(
  () => parentPort.postMessage({ initialized: true }),
  () => parentPort.postMessage({ initialized: false }),
);

function describe(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name || "Error",
      errorMessage: error.message,
      trace: (error.stack ?? "").split("\n"),
    };
  }
  return { errorType: "Error", errorMessage: String(error), trace: [] };
}

parentPort.on("message", async (message) => {
  if (message.assign) return assign(message.assign);
  const { requestId, payload, deadline } = message;
  try {
    // The event comes as JSON text, as Lambda's runtime API hands it over: any depth JSON can parse.
    const event = JSON.parse(payload);
    // An environment's first invocation may come before its module has loaded: it waits for it.
    const handler = await handlerPromise;
    const context = {
      functionName: fn.functionName,
      functionVersion: "$LATEST",
      invokedFunctionArn: fn.functionArn,
      memoryLimitInMB: String(fn.memoryMb),
      awsRequestId: requestId,
      logGroupName: fn.logGroupName,
      logStreamName: `local/${process.pid}`,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    const result = await new Promise((resolve, reject) => {
      const callback = (error, value) => (error ? reject(error) : resolve(value));
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === "function") returned.then(resolve, reject);
    });
    try {
      parentPort.postMessage({ requestId, ok: true, payload: result === undefined ? null : result });
    } catch (error) {
      // A result that cannot be handed back (too deep to copy) is the function's error, not a hang.
      parentPort.postMessage({
        requestId,
        ok: false,
        error: { errorType: "Runtime.ResponseNotSerializable", errorMessage: String(error), trace: [] },
      });
    }
  } catch (error) {
    parentPort.postMessage({ requestId, ok: false, error: describe(error) });
  }
});
