import { defineConfig } from "vitest/config";
import base from "./vitest.config.ts";

// The unit and simulation tier: pure logic and the simulations' models, no engines, so no global setup.
export default defineConfig({
  resolve: base.resolve,
  test: {
    ...base.test,
    include: ["test/unit/**/*.test.ts", "packages/*/test/unit/**/*.test.ts"],
    globalSetup: [],
  },
});
