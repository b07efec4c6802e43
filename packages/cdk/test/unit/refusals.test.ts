/**
 * Bad input writes nothing (property): every request the write routes refuse with 400 reaches no replica,
 * through the real routes, router, coordinator and proposer, with replica transports that record calls.
 */

import { contractRouter } from "@serverless-coordination/core/http";
import { MemoryAcceptor, Proposer, type ReplicaTransport } from "@serverless-coordination/core/paxos";
import { ReplicationCoordinator } from "@serverless-coordination/core/replication";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kvContract, kvHandlers } from "../../handlers/api/kv-routes.ts";
import { paxosContract, paxosHandlers } from "../../handlers/api/paxos-routes.ts";

const ids = ["Replica1", "Replica2", "Replica3"];
const calls: string[] = [];
const acceptors = ids.map(() => new MemoryAcceptor());

const coordinator = new ReplicationCoordinator({
  replicaIds: ids,
  invoke: async <T>(replicaId: string, request: object) => {
    const { op, key, value } = request as { op: string; key: string; value: unknown };
    calls.push(`${replicaId} ${op}`);
    if (op === "commit") return { key, version: "001700000000000.000000", value } as T;
    if (op === "apply") return { result: "applied", version: "001700000000000.000000" } as T;
    return null as T;
  },
});
const transport: ReplicaTransport = {
  replicaIds: ids,
  // biome-ignore lint/suspicious/noExplicitAny: one body serves both overloads of call.
  call: ((replicaId: string, request: any) => {
    calls.push(`${replicaId} ${request.op}`);
    const acceptor = acceptors[ids.indexOf(replicaId)]!;
    return request.op === "prepare" ? acceptor.prepare(request) : acceptor.accept(request);
  }) as ReplicaTransport["call"],
};
const proposer = new Proposer({ proposerId: "p", transport });
const handle = contractRouter(
  { ...kvContract, ...paxosContract },
  { ...kvHandlers(coordinator, async () => 0), ...paxosHandlers(() => proposer) },
  { error: () => {} },
);

const event = (routeKey: string, key: string, body: string): APIGatewayProxyEventV2 =>
  ({
    routeKey,
    rawPath: `/${routeKey.split(" /")[1]!.split("/")[0]}/${key}`,
    pathParameters: { key },
    headers: {},
    body,
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2;

/** Bodies of every kind: valid ones, JSON of the wrong shape, numbers JSON cannot carry, deep nesting, garbage. */
const body = fc.oneof(
  fc
    .record({ value: fc.jsonValue(), consistency: fc.constantFrom("all", "primary", "some") })
    .map((b) => JSON.stringify(b)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }).map((n) => `{"value":${n},"consistency":"all"}`),
  fc
    .integer({ min: 60, max: 300 })
    .map((depth) => `{"value":${"[".repeat(depth)}${"]".repeat(depth)},"consistency":"all"}`),
  fc.string(),
);
const key = fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,200}$/), fc.string({ maxLength: 260 }));

describe("a refused request writes nothing", () => {
  it("PUT /kv, PUT /paxos and POST /paxos: every 400 reaches no replica; every 200 did (property)", async () => {
    let refused = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("PUT /kv/{key}", "PUT /paxos/{key}", "POST /paxos/{key}"),
        key,
        body,
        async (route, k, b) => {
          calls.length = 0;
          const response = await handle(event(route, k, b));
          if (response.statusCode === 400) {
            refused++;
            expect(calls).toEqual([]);
          } else {
            accepted++;
            expect([200, 409]).toContain(response.statusCode);
            expect(calls.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 600, seed: 11 },
    );
    // Both sides of the property were exercised.
    expect(refused).toBeGreaterThan(100);
    expect(accepted).toBeGreaterThan(50);
  });
});
