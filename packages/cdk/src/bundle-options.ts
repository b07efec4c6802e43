/** The esbuild options of every handler bundle: the package's build and the build from sources alike. */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: "node" as const,
  format: "esm" as const,
  target: "node22",
  outExtension: { ".js": ".mjs" },
  external: ["@aws-sdk/*", "@smithy/*"],
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  legalComments: "none" as const,
  // The core package from its sources in this repository; its compiled form elsewhere.
  conditions: ["serverless-coordination:source"],
  logLevel: "error" as const,
};
