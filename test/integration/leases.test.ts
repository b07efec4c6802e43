/** The lookup service on DynamoDB Local, with a clock the test moves. */
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../packages/core/src/api/contract.ts";
import { DomainError } from "../../packages/core/src/errors.ts";
import { LEASES_BY_SERVER_INDEX, LeaseService } from "../../packages/core/src/leases/service.ts";
import { rendezvous } from "../../packages/core/src/mesh/hashing.ts";
import { createPkTable, isolatedDocuments, recordingClient } from "../support/dynamodb.ts";

const documents = isolatedDocuments();
const config = { leaseDurationMs: 10_000, maxSkewMs: 1_000 };
let clock = 1_000_000;
let leaseTable: string;
let serverTable: string;
let n = 0;
const session = () => `session-${n++}`;

beforeAll(async () => {
  leaseTable = "Leases";
  await documents.send(
    new CreateTableCommand({
      TableName: leaseTable,
      KeySchema: [{ AttributeName: "sessionId", KeyType: "HASH" }],
      AttributeDefinitions: [
        { AttributeName: "sessionId", AttributeType: "S" },
        { AttributeName: "serverId", AttributeType: "S" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: LEASES_BY_SERVER_INDEX,
          KeySchema: [{ AttributeName: "serverId", KeyType: "HASH" }],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
      ],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  serverTable = await createPkTable(documents, "Servers", "serverId");
});

// Each test gets servers of its own (a fresh prefix), so earlier tests' servers do not interfere.
let prefix = "";
beforeEach(() => {
  prefix = `t${n++}-`;
  clock += 1_000_000;
});

/** `whileWaiting` runs at each step of a waiting move (the servers that go on heartbeating). */
const service = (whileWaiting: () => Promise<unknown> = async () => {}) =>
  new LeaseService(documents, {
    leaseTable,
    serverTable,
    config,
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
      await whileWaiting();
    },
    pollMs: 250,
  });
const conflictOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError)
      return { status: ERROR_STATUS[error.code], code: error.code, ...error.details };
    throw error;
  }
  throw new Error("expected an error");
};

/** Only this test's servers are live: the others expired a million ms ago. */
const heartbeatAll = (ids: string[]) => Promise.all(ids.map((id) => service().heartbeat(`${prefix}${id}`)));

describe("servers", () => {
  it("a heartbeat registers a server, renews it in the same epoch, and starts a new epoch after expiry plus skew", async () => {
    const first = await service().heartbeat(`${prefix}a`);
    expect(first).toMatchObject({ serverId: `${prefix}a`, expiresAt: clock + 10_000, leases: [] });
    clock += 5_000;
    const renewed = await service().heartbeat(`${prefix}a`);
    expect(renewed.epoch).toBe(first.epoch);
    expect(renewed.expiresAt).toBe(clock + 10_000);
    clock += 10_000 + config.maxSkewMs + 1;
    const again = await service().heartbeat(`${prefix}a`);
    expect(again.epoch).not.toBe(first.epoch);
    expect((await service().liveServers()).map((server) => server.serverId)).toEqual([`${prefix}a`]);
  });
});

describe("lookup", () => {
  it("assigns by rendezvous hashing over live servers and keeps the session there while the lease lives", async () => {
    await heartbeatAll(["a", "b", "c"]);
    const id = session();
    const first = await service().lookup(id);
    expect(first.serverId).toBe(rendezvous(id, [`${prefix}a`, `${prefix}b`, `${prefix}c`]));
    expect(first).toMatchObject({ fencingToken: 1, leaseExpiresAt: clock + 10_000 });
    clock += 3_000;
    await heartbeatAll(["a", "b", "c", "d"]);
    // A new server does not take a session whose lease lives.
    expect((await service().lookup(id)).serverId).toBe(first.serverId);
    const hb = await service().heartbeat(first.serverId);
    expect(hb.leases).toContainEqual({ sessionId: id, fencingToken: 1, leaseExpiresAt: clock + 10_000 });
  });

  it("gives 20 concurrent first lookups of one session the same server and one token", async () => {
    await heartbeatAll(["a", "b", "c"]);
    const id = session();
    const answers = await Promise.all(Array.from({ length: 20 }, () => service().lookup(id)));
    expect(new Set(answers.map((answer) => answer.serverId)).size).toBe(1);
    expect(new Set(answers.map((answer) => answer.fencingToken))).toEqual(new Set([1]));
  });

  it("answers 503 NoLiveServer when no server is live", async () => {
    clock += 10_000_000;
    expect(await conflictOf(service().lookup(session()))).toMatchObject({
      status: 503,
      code: "NoLiveServer",
    });
  });

  it("moves the sessions of a server that stopped heartbeating only after expiry plus skew; others stay", async () => {
    await heartbeatAll(["a", "b", "c"]);
    const ids = Array.from({ length: 30 }, () => session());
    const before = new Map<string, { serverId: string; fencingToken: number }>();
    for (const id of ids) before.set(id, await service().lookup(id));
    const victim = `${prefix}a`;
    // b and c keep heartbeating, a stops.
    for (const step of [4_000, 4_000, 2_500]) {
      clock += step;
      await heartbeatAll(["b", "c"]);
      // Up to expiry + skew (11 s after a's last heartbeat) nobody moves.
      for (const id of ids) expect((await service().lookup(id)).serverId).toBe(before.get(id)!.serverId);
    }
    clock += 600; // 11.1 s after a's last heartbeat
    for (const id of ids) {
      const now = await service().lookup(id);
      const was = before.get(id)!;
      if (was.serverId === victim) {
        expect(now.serverId).not.toBe(victim);
        expect(now.fencingToken).toBe(was.fencingToken + 1);
      } else expect(now).toMatchObject({ serverId: was.serverId, fencingToken: was.fencingToken });
    }
    // a comes back in a new epoch: its old leases are not its own any more.
    expect((await service().heartbeat(victim)).leases).toEqual([]);
  });
});

describe("move, release and the fence", () => {
  it("with wait=false answers 409 LeaseHeld with retryAfterMs and stops renewing the lease", async () => {
    await heartbeatAll(["a", "b"]);
    const id = session();
    const first = await service().lookup(id);
    const other = first.serverId === `${prefix}a` ? `${prefix}b` : `${prefix}a`;
    clock += 2_000;
    const held = await conflictOf(service().move(id, other, false));
    expect(held).toMatchObject({
      status: 409,
      code: "LeaseHeld",
      serverId: first.serverId,
      retryAfterMs: 9_001,
    });
    // The holder heartbeats on, but the lease waits out its frozen expiry.
    clock += 5_000;
    await heartbeatAll(["a", "b"]);
    expect(await conflictOf(service().move(id, other, false))).toMatchObject({ retryAfterMs: 4_001 });
    clock += 4_001;
    await heartbeatAll(["a", "b"]);
    const moved = await service().move(id, other, false);
    expect(moved).toMatchObject({ serverId: other, fencingToken: 2, waitedMs: 0 });
  });

  it("waits for the lease to expire, then assigns with a higher token", async () => {
    await heartbeatAll(["a", "b"]);
    const id = session();
    const first = await service().lookup(id);
    const other = first.serverId === `${prefix}a` ? `${prefix}b` : `${prefix}a`;
    // Both servers go on heartbeating while the move waits: the frozen lease expires all the same.
    const moved = await service(() => heartbeatAll(["a", "b"])).move(id, other, true);
    expect(moved).toMatchObject({ serverId: other, fencingToken: 2 });
    expect(moved.waitedMs).toBeGreaterThanOrEqual(11_000);
    expect(moved.waitedMs).toBeLessThan(11_300);
  });

  it("releases at once for its holder only, and tokens keep growing after a release", async () => {
    await heartbeatAll(["a", "b"]);
    const id = session();
    const first = await service().lookup(id);
    const other = first.serverId === `${prefix}a` ? `${prefix}b` : `${prefix}a`;
    expect(await conflictOf(service().release(id, other, first.fencingToken))).toMatchObject({
      status: 409,
      code: "StaleFencingToken",
    });
    expect(await conflictOf(service().release(id, first.serverId, 99))).toMatchObject({ status: 409 });
    await service().release(id, first.serverId, first.fencingToken);
    const moved = await service().move(id, other, false);
    expect(moved).toMatchObject({ serverId: other, fencingToken: first.fencingToken + 1, waitedMs: 0 });
    await service().release(id, other, moved.fencingToken);
    expect((await service().lookup(id)).fencingToken).toBe(first.fencingToken + 2);
  });

  it("stores state only with the newest token; a stale holder is rejected and changes nothing", async () => {
    await heartbeatAll(["a", "b"]);
    const id = session();
    const first = await service().lookup(id);
    await service().writeState(id, first.serverId, first.fencingToken, { turn: 1 });
    const other = first.serverId === `${prefix}a` ? `${prefix}b` : `${prefix}a`;
    await service().release(id, first.serverId, first.fencingToken);
    const moved = await service().move(id, other, false);
    await service().writeState(id, other, moved.fencingToken, { turn: 2 });
    // The old holder has not noticed: its write with the old token bounces.
    expect(
      await conflictOf(service().writeState(id, first.serverId, first.fencingToken, { turn: 99 })),
    ).toMatchObject({ status: 409, code: "StaleFencingToken", fencingToken: moved.fencingToken });
    expect(await service().readState(id)).toEqual({
      sessionId: id,
      state: { turn: 2 },
      fencingToken: moved.fencingToken,
    });
  });
});

describe("what a lease answer promises a server", () => {
  it("refuses state writes under a released token, and under an expired lease", async () => {
    await heartbeatAll(["a", "b"]);
    const id = session();
    const first = await service().lookup(id);
    await service().writeState(id, first.serverId, first.fencingToken, { turn: 1 });
    await service().release(id, first.serverId, first.fencingToken);
    // Released, not yet assigned again: the old holder's token no longer writes.
    expect(
      await conflictOf(service().writeState(id, first.serverId, first.fencingToken, { turn: 99 })),
    ).toMatchObject({ status: 409, code: "StaleFencingToken" });
    const second = await service().lookup(id);
    // Its server stops heartbeating: past expiry plus skew, nobody has taken it yet, and still no write.
    clock += config.leaseDurationMs + config.maxSkewMs + 1;
    expect(
      await conflictOf(service().writeState(id, second.serverId, second.fencingToken, { turn: 98 })),
    ).toMatchObject({ status: 409, code: "StaleFencingToken" });
    expect((await service().readState(id)).state).toEqual({ turn: 1 });
  });

  it("never moves a registration's expiry backwards (a service instance whose clock is behind)", async () => {
    const ahead = await service().heartbeat(`${prefix}a`);
    const behind = new LeaseService(documents, { leaseTable, serverTable, config, now: () => clock - 500 });
    const answer = await behind.heartbeat(`${prefix}a`);
    expect(answer.expiresAt).toBe(ahead.expiresAt);
    expect(
      (await service().liveServers()).find((server) => server.serverId === `${prefix}a`)?.expiresAt,
    ).toBe(ahead.expiresAt);
  });

  it("a heartbeat racing a takeover at the boundary: never both the old holder and the new one", async () => {
    // Service instances with clocks a skew bound apart: one may still renew, the other may take over.
    const renewer = new LeaseService(documents, { leaseTable, serverTable, config, now: () => clock });
    // The taker's client says when it sends its first takeover transaction: the moment to race it.
    let committing: () => void = () => {};
    const taking = {
      send: (command: { constructor: { name: string } }) => {
        if (command.constructor.name === "TransactWriteCommand") committing();
        return documents.send(command as never);
      },
    } as unknown as typeof documents;
    const taker = new LeaseService(taking, {
      leaseTable,
      serverTable,
      config,
      now: () => clock + config.maxSkewMs + 1,
    });
    let takeovers = 0;
    for (let round = 0; round < 20; round++) {
      prefix = `t${n++}-`;
      clock += 1_000_000;
      await heartbeatAll(["a", "b"]);
      const ids = Array.from({ length: 5 }, () => session());
      const holders = await Promise.all(ids.map((id) => service().lookup(id)));
      // Every holder's registration is at its last instant by the renewer's clock.
      clock += config.leaseDurationMs;
      // A third server, just registered, is live for the taker.
      await taker.heartbeat(`${prefix}c`);
      // Who starts first alternates: the renewals at once, or as the first takeover commits.
      const takeoverFirst = round % 2 === 1;
      const takeoverSent = new Promise<void>((resolve) => {
        committing = resolve;
        setTimeout(resolve, 500);
      });
      const lookupsDone = Promise.all(ids.map((id) => taker.lookup(id)));
      const renewals = Promise.all(
        [`${prefix}a`, `${prefix}b`].map(async (serverId) => {
          if (takeoverFirst) await takeoverSent;
          return renewer.heartbeat(serverId);
        }),
      );
      const [renewed, lookups] = await Promise.all([renewals, lookupsDone]);
      let moved = 0;
      for (const [index, id] of ids.entries()) {
        const now = lookups[index]!;
        if (now.serverId !== holders[index]!.serverId) moved++;
        for (const renewal of renewed) {
          const told = renewal.leases.some((lease) => lease.sessionId === id);
          expect(
            told && renewal.serverId !== now.serverId,
            `${id} told to ${renewal.serverId}, given to ${now.serverId}`,
          ).toBe(false);
        }
      }
      takeovers += moved;
    }
    // The race went both ways: some sessions were taken over, some renewals won.
    expect(takeovers).toBeGreaterThan(0);
  });

  it("a heartbeat racing a freeze never answers a later expiry than the frozen one", async () => {
    for (let round = 0; round < 20; round++) {
      prefix = `t${n++}-`;
      clock += 1_000_000;
      await heartbeatAll(["a", "b"]);
      const id = session();
      const holder = await service().lookup(id);
      const other = holder.serverId === `${prefix}a` ? `${prefix}b` : `${prefix}a`;
      clock += 1_000;
      const [renewal] = await Promise.all([
        service().heartbeat(holder.serverId),
        service()
          .move(id, other, false)
          .catch(() => {}),
      ]);
      const { Item } = await documents.send(
        new GetCommand({ TableName: leaseTable, Key: { sessionId: id }, ConsistentRead: true }),
      );
      const told = renewal.leases.find((lease) => lease.sessionId === id);
      if (told && Item?.frozenExpiresAt !== undefined)
        expect(told.leaseExpiresAt).toBeLessThanOrEqual(Item.frozenExpiresAt);
    }
  });
});

describe("a server that comes back within the skew bound after its registration's expiry", () => {
  it("keeps its registration and its sessions: nobody could have been given them yet", async () => {
    await heartbeatAll(["a", "b"]);
    const id = session();
    const held = await service().lookup(id);
    const first = await service().heartbeat(held.serverId);
    // Past the expiry by the service's clock, but within the skew bound: the holder may still (by its
    // own clock) be acting on the lease.
    clock += config.leaseDurationMs + config.maxSkewMs / 2;
    const again = await service().heartbeat(held.serverId);
    expect(again.epoch).toBe(first.epoch);
    expect(again.leases.map((lease) => lease.sessionId)).toContain(id);
    expect(await service().lookup(id)).toMatchObject({
      serverId: held.serverId,
      fencingToken: held.fencingToken,
    });
  });
});

describe("a lookup that races a freeze and a renewal", () => {
  it("never answers a later expiry than the frozen one", async () => {
    await heartbeatAll(["a", "b"]);
    const id = session();
    const held = await service().lookup(id);
    const other = held.serverId === `${prefix}a` ? `${prefix}b` : `${prefix}a`;
    clock += 1_000;
    // Between the lookup's read of the lease and its read of the registration, another instance freezes
    // the lease (a move) and the holder's heartbeat renews its registration.
    let raced = false;
    const racing = {
      send: async (command: { constructor: { name: string }; input: { TableName?: string } }) => {
        const answer = await documents.send(command as never);
        if (!raced && command.constructor.name === "GetCommand" && command.input.TableName === leaseTable) {
          raced = true;
          expect(await conflictOf(service().move(id, other, false))).toMatchObject({ code: "LeaseHeld" });
          clock += 1_000;
          await service().heartbeat(held.serverId);
        }
        return answer;
      },
    } as unknown as typeof documents;
    const answer = await new LeaseService(racing, {
      leaseTable,
      serverTable,
      config,
      now: () => clock,
    }).lookup(id);
    const { Item } = await documents.send(
      new GetCommand({ TableName: leaseTable, Key: { sessionId: id }, ConsistentRead: true }),
    );
    expect(raced).toBe(true);
    expect(Item?.frozenExpiresAt).toBeDefined();
    expect(answer.leaseExpiresAt).toBeLessThanOrEqual(Item!.frozenExpiresAt);
  });
});

describe("an uncached lookup of an assigned session", () => {
  /** A service on a client that records the name of every request it sends to DynamoDB. */
  const counted = () => {
    const { client, sent } = recordingClient(documents);
    return { sent, leases: new LeaseService(client, { leaseTable, serverTable, config, now: () => clock }) };
  };

  it("is one DynamoDB request (the lease and its holder's registration together) once the instance knows the servers", async () => {
    const { sent, leases } = counted();
    // The instance learns the servers as the Api does: it answered their heartbeats.
    await Promise.all(["a", "b", "c"].map((id) => leases.heartbeat(`${prefix}${id}`)));
    const id = session();
    const assigned = await service().lookup(id);
    sent.length = 0;
    expect(await leases.lookup(id)).toEqual(assigned);
    expect(sent).toEqual(["TransactGetCommand"]);
  });

  it("is one request too when the instance saw the servers' heartbeats before their last renewal (other instances renew them)", async () => {
    const { sent, leases } = counted();
    await Promise.all(["a", "b", "c"].map((id) => leases.heartbeat(`${prefix}${id}`)));
    // Past what this instance saw of their registrations: other instances answered their later heartbeats.
    clock += config.leaseDurationMs + 5_000;
    await heartbeatAll(["a", "b", "c"]);
    const id = session();
    const assigned = await service().lookup(id);
    sent.length = 0;
    expect(await leases.lookup(id)).toEqual(assigned);
    expect(sent).toEqual(["TransactGetCommand"]);
  });

  it("answers the new holder when the instance's guess is out of date, then reads once again", async () => {
    const { sent, leases } = counted();
    await heartbeatAll(["a", "b"]);
    const id = session();
    const held = await leases.lookup(id);
    const other = held.serverId === `${prefix}a` ? `${prefix}b` : `${prefix}a`;
    // Another instance moves the session: its holder lets go, the move assigns it to the other server.
    await service().release(id, held.serverId, held.fencingToken);
    const moved = await service().move(id, other, false);
    sent.length = 0;
    const answer = await leases.lookup(id);
    expect(answer).toMatchObject({ serverId: other, fencingToken: held.fencingToken + 1 });
    expect(answer.leaseExpiresAt).toBe(moved.leaseExpiresAt);
    expect(sent).toEqual(["TransactGetCommand", "TransactGetCommand"]);
    sent.length = 0;
    expect(await leases.lookup(id)).toEqual(answer);
    expect(sent).toEqual(["TransactGetCommand"]);
  });
});
