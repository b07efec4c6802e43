/**
 * The local HTTP API's limits on the request line and headers, as API Gateway's HTTP API has them
 * (request line and header values together at most 10,240 bytes): a request over them is answered, 414
 * or 431, completely, before the connection closes; a client sees the answer, never a reset. Loopback.
 */
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpApi } from "../../src/http-api.ts";

let server: Awaited<ReturnType<typeof startHttpApi>>;
let base: string;
beforeAll(async () => {
  server = await startHttpApi([], 0, "127.0.0.1", {
    accessKeyId: "local",
    secretAccessKey: "local",
    region: "us-east-1",
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const answer = async (response: Response) => ({ status: response.status, body: await response.json() });

describe("a request over the HTTP API's header limits", () => {
  it("within them is routed as usual", async () => {
    const response = await fetch(`${base}/${"p".repeat(4000)}`, { headers: { "x-big": "h".repeat(5000) } });
    expect(response.status).toBe(404);
  });

  it("with a URL of 100,000 characters is answered 414, completely", async () => {
    expect(await answer(await fetch(`${base}/${"p".repeat(100_000)}`))).toEqual({
      status: 414,
      body: { message: "Request-URI Too Large" },
    });
  });

  it("with a 64 KB header, or headers beyond what the server parses at all, is answered 431, completely", async () => {
    for (const size of [11_000, 64 * 1024, 2 * 1024 * 1024]) {
      const response = await fetch(`${base}/kv/k`, {
        method: "PUT",
        headers: { "x-big": "h".repeat(size) },
        body: JSON.stringify({ value: 1 }),
      });
      expect(await answer(response), String(size)).toEqual({
        status: 431,
        body: { message: "Request Header Fields Too Large" },
      });
    }
  });

  it("keeps serving: later requests are answered", async () => {
    expect((await fetch(`${base}/after`)).status).toBe(404);
  });
});
