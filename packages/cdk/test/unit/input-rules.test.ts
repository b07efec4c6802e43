/**
 * The input rules of the contract that are not keys or values: what a mesh client id and a count in a
 * query string are, and a body whose bytes are not UTF-8. Through the real router and routes; the lease
 * and slot stores are in memory (only their live-server list is read).
 */

import { contractRouter } from "@serverless-coordination/core/http";
import type { LeaseService, SlotStore } from "@serverless-coordination/core/leases";
import { ReplicationCoordinator } from "@serverless-coordination/core/replication";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { kvContract, kvHandlers } from "../../handlers/api/kv-routes.ts";
import { lookupContract, lookupHandlers } from "../../handlers/api/lookup-routes.ts";

const servers = ["a", "b", "c"];
const leases = {
  liveServers: async () => servers.map((serverId) => ({ serverId, expiresAt: 0 })),
} as unknown as LeaseService;
const slots = {
  slotsFor: async (ids: string[]) => new Map(ids.map((id, slot) => [id, slot])),
} as unknown as SlotStore;
const handle = contractRouter(lookupContract, lookupHandlers(leases, slots), { error: () => {} });

const subset = async (clientId: string, query: Record<string, string> = {}) => {
  const response = await handle({
    routeKey: "GET /mesh/subsets/{clientId}",
    rawPath: `/mesh/subsets/${clientId}`,
    rawQueryString: new URLSearchParams(query).toString(),
    pathParameters: { clientId },
    queryStringParameters: query,
    headers: {},
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2);
  return { status: response.statusCode, body: JSON.parse(String(response.body)) };
};

describe("a mesh client id", () => {
  it("of digits only is the client's index: up to 15 digits, no leading zero", async () => {
    for (const id of ["0", "7", "9999"])
      expect((await subset(id, { clients: "10000" })).status, id).toBe(200);
    expect((await subset("7", { clients: "10" })).status).toBe(200);
    expect((await subset("7", { algorithm: "deterministic" })).status).toBe(200);
    expect((await subset("999999999999999", { algorithm: "deterministic" })).status).toBe(200);
    for (const id of ["9999999999999999", "99999999999999999999", "007", "00"]) {
      for (const algorithm of ["slot", "deterministic", "random"]) {
        const answer = await subset(id, { algorithm });
        expect(answer.status, `${id} ${algorithm}`).toBe(400);
        expect(answer.body.error.code).toBe("InvalidClientId");
        expect(answer.body.error.message).toMatch(/at most 15 digits, without a leading zero/);
      }
    }
  });

  it("with any other character is a name, hashed to an index", async () => {
    const named = await subset("client-9999999999999999", { algorithm: "deterministic" });
    expect(named.status).toBe(200);
    expect((await subset("client-9999999999999999", { algorithm: "deterministic" })).body).toEqual(
      named.body,
    );
  });
});

describe("a count in a query string (size, clients)", () => {
  it("is decimal digits within its range, and nothing else reads as a number", async () => {
    expect((await subset("1", { size: "2", clients: "10" })).body).toMatchObject({ size: 2, clients: 10 });
    expect((await subset("1", { size: "1000", clients: "10000" })).status).toBe(200);
    for (const size of [
      "1e3",
      "1E3",
      "0x10",
      "+5",
      "-1",
      " 5",
      "5 ",
      "5.0",
      "2.5",
      "",
      "0",
      "1001",
      "010",
      "Infinity",
    ]) {
      const answer = await subset("1", { size });
      expect(answer.status, JSON.stringify(size)).toBe(400);
      expect(answer.body.error.code).toBe("InvalidQuery");
    }
    for (const clients of ["1e4", "0", "10001", "ten"]) {
      expect((await subset("1", { clients })).status, clients).toBe(400);
    }
  });
});

describe("a body that is not UTF-8", () => {
  const written: unknown[] = [];
  const coordinator = new ReplicationCoordinator({
    replicaIds: ["Replica1"],
    invoke: async <T>(_replicaId: string, request: object) => {
      const { key, value } = request as { key: string; value: unknown };
      written.push(value);
      return { key, version: "001700000000000.000000", value } as T;
    },
  });
  const kv = contractRouter(
    kvContract,
    kvHandlers(coordinator, async () => 0),
    { error: () => {} },
  );
  /** `{"value":"A<FF FE C3>Z"}`: a lone continuation-less lead byte and two bytes UTF-8 never has. */
  const bytes = Buffer.concat([
    Buffer.from('{"value":"A'),
    Buffer.from([0xff, 0xfe, 0xc3]),
    Buffer.from('Z","consistency":"all"}'),
  ]);
  const put = (body: string, isBase64Encoded: boolean, key?: string) =>
    kv({
      routeKey: "PUT /kv/{key}",
      rawPath: "/kv/k",
      pathParameters: { key: "k" },
      headers: key ? { "idempotency-key": key } : {},
      body,
      isBase64Encoded,
    } as unknown as APIGatewayProxyEventV2);

  it("arrives as bytes (a binary content type) and is refused with 400, writing nothing", async () => {
    written.length = 0;
    for (const key of [undefined, "key-1"]) {
      const answer = await put(bytes.toString("base64"), true, key);
      expect(answer.statusCode, key).toBe(400);
      expect(JSON.parse(String(answer.body)).error.code).toBe("InvalidEncoding");
    }
    expect(written).toEqual([]);
  });

  it("that is UTF-8 is read exactly, as bytes or as text", async () => {
    written.length = 0;
    const text = JSON.stringify({ value: "A\uFFFD\u00e9\u{1F600}Z", consistency: "all" });
    expect((await put(Buffer.from(text).toString("base64"), true)).statusCode).toBe(200);
    expect((await put(text, false)).statusCode).toBe(200);
    expect(written).toEqual(["A\uFFFD\u00e9\u{1F600}Z", "A\uFFFD\u00e9\u{1F600}Z"]);
  });
});
