/**
 * The real LeaseService on the DynamoDB model, where the model shows what DynamoDB Local cannot: a
 * global secondary index that lags its table, and Query pages.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import type { DomainError } from "../../packages/core/src/errors.ts";
import { LEASES_BY_SERVER_INDEX, LeaseService } from "../../packages/core/src/leases/service.ts";
import { DynamoDBModel } from "../simulation/dynamodb-model.ts";

const config = { leaseDurationMs: 10_000, maxSkewMs: 1_000 };

/** The index projects ALL here, as it did before heartbeats read each lease themselves: a fair test of both. */
function world(options: { indexLagMs?: number; pageSize?: number } = {}, observed: string[] = []) {
  let clock = 1_000_000;
  const model = new DynamoDBModel(
    [
      {
        name: "Leases",
        hashKey: "sessionId",
        indexes: [{ name: LEASES_BY_SERVER_INDEX, hashKey: "serverId", projection: "ALL" }],
      },
      { name: "Servers", hashKey: "serverId" },
    ],
    // The index applies every write as late as it may.
    { now: () => clock, random: () => 0.999, ...options },
  );
  const service = new LeaseService(model as unknown as DynamoDBDocumentClient, {
    leaseTable: "Leases",
    serverTable: "Servers",
    config,
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
    observe: (kind) => observed.push(kind),
  });
  /** Lets `ms` pass while the given servers heartbeat every 5 s (their registrations live on). */
  const pass = async (ms: number, servers: string[]) => {
    for (let left = ms; left > 0; left -= 5_000) {
      clock += Math.min(5_000, left);
      for (const serverId of servers) await service.heartbeat(serverId);
    }
  };
  return { service, advance: (ms: number) => (clock += ms), pass };
}

describe("LeaseService heartbeats", () => {
  it("answer a lease frozen by a move with its frozen expiry, however far the index lags", async () => {
    const { service, advance, pass } = world({ indexLagMs: 60_000 });
    await service.heartbeat("a");
    await service.heartbeat("b");
    // Assigned long enough ago for the index to list it.
    const id = "s1";
    const held = await service.lookup(id);
    await pass(61_000, ["a", "b"]);
    const other = held.serverId === "a" ? "b" : "a";
    const frozen = await service.move(id, other, false).catch((error: DomainError) => error);
    expect(frozen).toMatchObject({ code: "LeaseHeld" });
    advance(2_000);
    // The index still holds the unfrozen image; the heartbeat must not promise more than the freeze.
    const renewal = await service.heartbeat(held.serverId);
    const told = renewal.leases.find((lease) => lease.sessionId === id);
    expect(told).toBeDefined();
    expect(told!.leaseExpiresAt).toBeLessThan(renewal.expiresAt);
    expect(told!.leaseExpiresAt).toBe(renewal.expiresAt - 2_000);
  });

  it("leave out a lease reassigned since the index listed it", async () => {
    const { service, pass } = world({ indexLagMs: 60_000 });
    await service.heartbeat("a");
    const first = await service.lookup("s");
    await pass(61_000, ["a"]);
    await service.release("s", "a", first.fencingToken);
    await service.heartbeat("b");
    // Only b is live for this move target; a is released.
    expect(await service.move("s", "b", false)).toMatchObject({ serverId: "b", fencingToken: 2 });
    expect((await service.heartbeat("a")).leases).toEqual([]);
  });

  it("list every lease of a server, page after page", async () => {
    const { service } = world({ pageSize: 2 });
    await service.heartbeat("a");
    const ids = Array.from({ length: 7 }, (_, index) => `s${index}`);
    for (const id of ids) await service.lookup(id);
    const renewal = await service.heartbeat("a");
    expect(renewal.leases.map((lease) => lease.sessionId).sort()).toEqual(ids);
  });
});

describe("LeaseService assignments (the LeaseAssignments metric)", () => {
  it("reports each assignment's kind: first, after the holder expired, and a handover after a release", async () => {
    const observed: string[] = [];
    const { service, pass } = world({}, observed);
    await service.heartbeat("a");
    const first = await service.lookup("s");
    expect(observed).toEqual(["first"]);
    // The holder stops heartbeating; another server takes the session after expiry plus skew.
    const other = first.serverId === "a" ? "b" : "a";
    await service.heartbeat(other);
    await pass(config.leaseDurationMs + config.maxSkewMs + 5_000, [other]);
    const second = await service.lookup("s");
    expect(second.serverId).toBe(other);
    expect(observed).toEqual(["first", "expired"]);
    // The holder hands the session over (released), and a move assigns it at once.
    await service.heartbeat(first.serverId);
    await service.release("s", other, second.fencingToken);
    await service.move("s", first.serverId, false);
    expect(observed).toEqual(["first", "expired", "handover"]);
  });
});
