import { defineConfig } from "vitest/config";
import unit from "./vitest.unit.config.ts";

// The unit and simulation tier once more, with the process clock in 2031 (test/support/clock-ahead.ts).
export default defineConfig({
  resolve: unit.resolve,
  test: { ...unit.test, setupFiles: ["test/support/clock-ahead.ts"] },
});
