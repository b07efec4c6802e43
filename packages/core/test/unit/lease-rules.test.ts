/** The lease rules with a controllable clock: acquire, renew, expiry with the skew bound, release, tokens. */
import { describe, expect, it } from "vitest";
import {
  canExtendRegistration,
  fenceAccepts,
  freezeNeedsUnchangedRegistration,
  holderValidUntil,
  type LeaseRecord,
  leaseExpiry,
  leaseStatus,
  nextFencingToken,
  type ServerRecord,
  serverLive,
  takeoverNeedsExpiredRegistration,
} from "../../src/leases/rules.ts";

const config = { leaseDurationMs: 10_000, maxSkewMs: 1_000 };
const server = (expiresAt: number, epoch = "e1"): ServerRecord => ({ serverId: "a", epoch, expiresAt });
const lease = (extra: Partial<LeaseRecord> = {}): LeaseRecord => ({
  sessionId: "s",
  serverId: "a",
  serverEpoch: "e1",
  fencingToken: 3,
  rvn: "r",
  ...extra,
});

describe("acquire", () => {
  it("a session never assigned is free", () => {
    expect(leaseStatus(undefined, undefined, 0, config)).toEqual({ status: "free" });
  });

  it("a live lease is held by its server with its token, until its expiry plus the skew bound", () => {
    expect(leaseStatus(lease(), server(10_000), 5_000, config)).toEqual({
      status: "held",
      serverId: "a",
      expiresAt: 10_000,
      reassignableAt: 11_000,
      fencingToken: 3,
    });
  });

  it("only live servers get sessions", () => {
    expect(serverLive(server(10_000), 10_000)).toBe(true);
    expect(serverLive(server(10_000), 10_001)).toBe(false);
    expect(serverLive(undefined, 0)).toBe(false);
  });
});

describe("renew", () => {
  it("a heartbeat renews every lease of the registration: the lease follows the server's expiry", () => {
    expect(leaseExpiry(lease(), server(10_000))).toBe(10_000);
    expect(leaseExpiry(lease(), server(25_000))).toBe(25_000);
  });

  it("a registration is extended up to its expiry plus the skew bound; after that a heartbeat starts a new epoch", () => {
    expect(canExtendRegistration(server(10_000), 9_999, config)).toBe(true);
    expect(canExtendRegistration(server(10_000), 11_000, config)).toBe(true);
    expect(canExtendRegistration(server(10_000), 11_001, config)).toBe(false);
    expect(canExtendRegistration(undefined, 0, config)).toBe(false);
  });

  it("a new epoch does not revive the leases of the old one", () => {
    expect(leaseExpiry(lease(), server(50_000, "e2"))).toBeUndefined();
    expect(leaseStatus(lease(), server(50_000, "e2"), 20_000, config)).toEqual({ status: "free" });
  });

  it("a frozen lease (a move is waiting) keeps its expiry however long the server heartbeats", () => {
    const frozen = lease({ frozenExpiresAt: 10_000, movingTo: "b" });
    expect(leaseExpiry(frozen, server(99_000))).toBe(10_000);
    expect(leaseStatus(frozen, server(99_000), 11_001, config)).toEqual({ status: "free" });
  });
});

describe("expiry with the skew bound", () => {
  it("is not reassignable in the grace period between expiry and expiry + skew", () => {
    expect(leaseStatus(lease(), server(10_000), 10_500, config).status).toBe("held");
    expect(leaseStatus(lease(), server(10_000), 11_000, config).status).toBe("held");
    expect(leaseStatus(lease(), server(10_000), 11_001, config)).toEqual({ status: "free" });
  });

  it("a holder stops acting skew before expiry, so it stops before anyone else may start", () => {
    const stop = holderValidUntil(10_000, config);
    const start = (leaseStatus(lease(), server(10_000), 0, config) as { reassignableAt: number })
      .reassignableAt;
    expect(stop).toBe(9_000);
    // Clocks that disagree by less than the bound cannot close the gap of 2 × skew.
    expect(start - stop).toBe(2 * config.maxSkewMs);
  });

  it("a lease whose server record is gone is free", () => {
    expect(leaseStatus(lease(), undefined, 0, config)).toEqual({ status: "free" });
  });
});

describe("release", () => {
  it("a released lease is free at once", () => {
    expect(leaseStatus(lease({ released: true }), server(10_000), 1, config)).toEqual({ status: "free" });
  });
});

describe("fencing tokens", () => {
  it("grow by one per assignment, from whatever the session had, and are never reused", () => {
    expect(nextFencingToken(undefined)).toBe(1);
    const tokens = [nextFencingToken(undefined)];
    let current: LeaseRecord | undefined;
    for (let i = 0; i < 5; i++) {
      current = lease({ fencingToken: tokens.at(-1)!, released: i % 2 === 0 });
      tokens.push(nextFencingToken(current));
    }
    expect(tokens).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("the fence accepts only the newest token of the holder it was issued to", () => {
    expect(fenceAccepts(lease(), "a", 3)).toBe(true);
    expect(fenceAccepts(lease(), "a", 2)).toBe(false);
    expect(fenceAccepts(lease(), "b", 3)).toBe(false);
    expect(fenceAccepts(undefined, "a", 1)).toBe(false);
  });
});

describe("transaction preconditions", () => {
  const other: ServerRecord = { serverId: "b", epoch: "e9", expiresAt: 50_000 };
  it("a takeover checks the old registration only when the lease ended with it", () => {
    expect(takeoverNeedsExpiredRegistration(lease(), server(10_000), other)).toBe(true);
    // Released, frozen, of an older registration, or back to the same server: nothing to race with.
    expect(takeoverNeedsExpiredRegistration(lease({ released: true }), server(10_000), other)).toBe(false);
    expect(takeoverNeedsExpiredRegistration(lease({ frozenExpiresAt: 9_000 }), server(10_000), other)).toBe(
      false,
    );
    expect(takeoverNeedsExpiredRegistration(lease(), server(10_000, "e2"), other)).toBe(false);
    expect(takeoverNeedsExpiredRegistration(lease(), server(10_000), server(60_000))).toBe(false);
    expect(takeoverNeedsExpiredRegistration(undefined, undefined, other)).toBe(false);
  });

  it("a first freeze checks that the registration it freezes at is unchanged", () => {
    expect(freezeNeedsUnchangedRegistration(lease(), server(10_000))).toBe(true);
    expect(freezeNeedsUnchangedRegistration(lease({ frozenExpiresAt: 9_000 }), server(10_000))).toBe(false);
    expect(freezeNeedsUnchangedRegistration(lease(), undefined)).toBe(false);
  });
});
