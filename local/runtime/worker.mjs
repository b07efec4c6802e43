// One Lambda execution environment: loads a function's bundled module once and runs one invocation at a
// time. Plain JavaScript because it runs the same bundle that deploys, with no TypeScript loader.
import { existsSync } from "node:fs";
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

const { codeDir, handler: handlerSpec, functionName, functionArn, memoryMb, logGroupName } = workerData;

async function loadHandler() {
  const dot = handlerSpec.lastIndexOf(".");
  const file = handlerSpec.slice(0, dot);
  const exportName = handlerSpec.slice(dot + 1);
  const candidates = [".mjs", ".js", ".cjs"].map((ext) => join(codeDir, file + ext));
  const path = candidates.find((candidate) => existsSync(candidate));
  if (!path)
    throw Object.assign(new Error(`Cannot find module '${file}'`), { name: "Runtime.ImportModuleError" });
  const module = await import(pathToFileURL(path).href);
  const fn = module[exportName] ?? module.default?.[exportName];
  if (typeof fn !== "function") {
    throw Object.assign(new Error(`${handlerSpec} is undefined or not exported`), {
      name: "Runtime.HandlerNotFound",
    });
  }
  return fn;
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

parentPort.on("message", async ({ requestId, payload, deadline }) => {
  const context = {
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: functionArn,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: requestId,
    logGroupName,
    logStreamName: `local/${process.pid}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    // The event comes as JSON text, as Lambda's runtime API hands it over: any depth JSON can parse.
    const event = JSON.parse(payload);
    const handler = await handlerPromise;
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
