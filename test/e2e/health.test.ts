import { afterAll, beforeAll, expect, it } from "vitest";
import { type E2ETarget, startTarget } from "../support/target.ts";

let target: E2ETarget;
beforeAll(async () => {
  target = await startTarget();
});
afterAll(async () => {
  await target?.stop();
});

it("GET /health answers 200 {status: ok}", async () => {
  const response = await fetch(`${target.baseUrl}/health`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/application\/json/);
  expect(await response.json()).toEqual({ status: "ok" });
});

it("answers an unknown route with 404", async () => {
  expect((await fetch(`${target.baseUrl}/no/such/route`)).status).toBe(404);
});
