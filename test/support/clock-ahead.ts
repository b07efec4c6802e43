/**
 * Moves the process clock years ahead (Date only; timers run as usual). The unit and simulation tier runs
 * once more under it in CI: code under test that reads the wall clock instead of an injected one, or a
 * test that leans on a literal date, fails here.
 */
import { vi } from "vitest";

vi.setSystemTime(new Date("2031-06-15T12:00:00.000Z"));
