/**
 * The real Proposer and registers against in-memory acceptors, with a transport whose delivery order each
 * test controls: the defects a single scripted interleaving shows (the simulation finds the rest).
 */
import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/errors.ts";
import {
  type AcceptorRequest,
  type AcceptRequest,
  MemoryAcceptor,
  type PrepareRequest,
  type RegisterState,
} from "../../src/paxos/acceptor.ts";
import { nextBallot } from "../../src/paxos/ballot.ts";
import { decodeState, encodeState } from "../../src/paxos/dynamodb-acceptor.ts";
import { Proposer, type ReplicaTransport } from "../../src/paxos/proposer.ts";
import { originMark, proposeOnce, readRegister, setRegister } from "../../src/paxos/register.ts";

const ids = ["r0", "r1", "r2"];

/**
 * Delivers each request after `delay(request, replica)` ms (undefined: the replica does not answer) and
 * calls `delivered` after each delivery.
 */
function transport(
  acceptors: MemoryAcceptor[],
  delay: (request: AcceptorRequest, replica: number) => number | undefined = () => 0,
  log: AcceptorRequest[] = [],
  delivered: () => void = () => {},
): ReplicaTransport {
  return {
    replicaIds: ids,
    // biome-ignore lint/suspicious/noExplicitAny: one body serves both overloads of call.
    call: ((replicaId: string, request: PrepareRequest | AcceptRequest): Promise<any> => {
      log.push(request);
      const replica = ids.indexOf(replicaId);
      const ms = delay(request, replica);
      if (ms === undefined) return Promise.reject(new Error("unreachable"));
      const acceptor = acceptors[replica]!;
      return new Promise((resolve) =>
        setTimeout(async () => {
          const reply = await (request.op === "prepare"
            ? acceptor.prepare(request)
            : acceptor.accept(request));
          delivered();
          resolve(reply);
        }, ms),
      );
    }) as ReplicaTransport["call"],
  };
}

/** Answers every request at once (in the same turn of the event loop). */
const immediate = (acceptors: MemoryAcceptor[]): ReplicaTransport => ({
  replicaIds: ids,
  // biome-ignore lint/suspicious/noExplicitAny: one body serves both overloads of call.
  call: ((replicaId: string, request: AcceptorRequest): Promise<any> => {
    const acceptor = acceptors[ids.indexOf(replicaId)]!;
    return request.op === "prepare" ? acceptor.prepare(request) : acceptor.accept(request);
  }) as ReplicaTransport["call"],
});

/** Ballots at which two replicas hold different states (never allowed: a read could pick either). */
function splitBallots(acceptors: MemoryAcceptor[], key: string): string[] {
  const byBallot = new Map<string, string>();
  const split: string[] = [];
  for (const acceptor of acceptors) {
    const accepted = acceptor.records.get(key)?.accepted;
    if (!accepted) continue;
    const state = JSON.stringify(accepted.state);
    if ((byBallot.get(accepted.ballot) ?? state) !== state) split.push(accepted.ballot);
    byBallot.set(accepted.ballot, state);
  }
  return split;
}

const fresh = () => ids.map(() => new MemoryAcceptor());
/** No time passes, but replies already due come in (as during any real wait). */
const noSleep = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("Proposer", () => {
  it("never lets two concurrent calls on one warm proposer put two states at one ballot", async () => {
    const acceptors = fresh();
    let race = false;
    // Call "a" reaches r0 and r1 first, call "b" reaches r2 first.
    const delay = (request: AcceptorRequest, replica: number) => {
      if (!race || request.op !== "accept") return 0;
      return (request.state.value === "a") === replica < 2 ? 1 : 10;
    };
    const split = new Set<string>();
    const proposer = new Proposer({
      proposerId: "p",
      transport: transport(acceptors, delay, [], () => {
        for (const ballot of splitBallots(acceptors, "k")) split.add(ballot);
      }),
      sleep: noSleep,
    });
    await setRegister(proposer, "k", "start");
    race = true;
    const answers = await Promise.all([setRegister(proposer, "k", "a"), setRegister(proposer, "k", "b")]);
    expect([...split]).toEqual([]);
    expect(answers.map((answer) => answer.version).sort()).toEqual([2, 3]);
    expect((await readRegister(proposer, "k")).version).toBe(3);
  });

  it("does not answer OutcomeUnknown for a warm attempt that a majority had already overtaken", async () => {
    // 40 proposers write one key round-robin: each comes back warm after 39 others' writes (more than
    // the register's history), its warm attempt is rejected, and it must still write.
    const acceptors = fresh();
    const proposers = Array.from(
      { length: 40 },
      (_, index) =>
        new Proposer({ proposerId: `p${index}`, transport: transport(acceptors), sleep: noSleep }),
    );
    const failures: string[] = [];
    for (let write = 0; write < 200; write++) {
      try {
        await setRegister(proposers[write % 40]!, "k", write);
      } catch (error) {
        failures.push(error instanceof DomainError ? error.code : String(error));
      }
    }
    expect(failures).toEqual([]);
    expect((await readRegister(proposers[0]!, "k")).version).toBe(200);
  });

  it("keeps the warm cache bounded however many keys one proposer writes", async () => {
    const acceptors = fresh();
    const proposer = new Proposer({
      proposerId: "p",
      transport: transport(acceptors),
      sleep: noSleep,
      maxCachedKeys: 50,
    });
    for (let index = 0; index < 300; index++) await setRegister(proposer, `k${index}`, index);
    expect(proposer.cachedKeys).toBeLessThanOrEqual(50);
    // An evicted key is written again correctly (cold, two round trips).
    expect((await setRegister(proposer, "k0", "again")).version).toBe(2);
  });

  it("takes a rejection plus a dead replica's error for contention, not a lost quorum", async () => {
    const acceptors = fresh();
    // r2 is down (every call fails at once). A rival that reaches only r1 promises above every prepare
    // of ours there for three rounds, then stops: r0 and r1 are a majority, so the write goes through.
    let rivalRounds = 3;
    const down: ReplicaTransport = {
      replicaIds: ids,
      // biome-ignore lint/suspicious/noExplicitAny: one body serves both overloads of call.
      call: (async (replicaId: string, request: AcceptorRequest): Promise<any> => {
        if (replicaId === "r2") throw new Error("replica down");
        const acceptor = acceptors[ids.indexOf(replicaId)]!;
        if (replicaId === "r1" && request.op === "prepare" && rivalRounds-- > 0) {
          const promised = acceptor.records.get(request.key)?.promised ?? "";
          const above = [promised, request.ballot].sort().at(-1)!;
          await acceptor.prepare({ op: "prepare", key: request.key, ballot: nextBallot(above, "z") });
        }
        if (replicaId === "r0") await new Promise((resolve) => setTimeout(resolve, 2));
        return request.op === "prepare" ? acceptor.prepare(request) : acceptor.accept(request);
      }) as ReplicaTransport["call"],
    };
    const proposer = new Proposer({ proposerId: "a", transport: down, sleep: noSleep });
    expect(await setRegister(proposer, "k", "mine")).toMatchObject({ value: "mine", version: 1 });
  });

  it("counts only consecutive rounds without a majority of answers as an outage", async () => {
    const acceptors = fresh();
    // Rounds alternate: no answers, a conflict (another proposer promised higher), no answers, success.
    let prepares = 0;
    const delay = (request: AcceptorRequest, replica: number) => {
      if (request.op !== "prepare") return 0;
      prepares++;
      if (prepares <= 3 || (prepares > 6 && prepares <= 9)) return replica === 0 ? 0 : undefined;
      return 0;
    };
    const rival = new Proposer({ proposerId: "z", transport: transport(acceptors), sleep: noSleep });
    await readRegister(rival, "k").catch(() => {});
    const proposer = new Proposer({
      proposerId: "a",
      transport: transport(acceptors, delay),
      sleep: noSleep,
    });
    // Round 2 is rejected: the rival's ballot is above ours, although every replica answers.
    expect((await setRegister(proposer, "k", "v")).version).toBe(1);
  });

  it("answers a warm change in one round trip", async () => {
    const acceptors = fresh();
    const log: AcceptorRequest[] = [];
    const proposer = new Proposer({
      proposerId: "p",
      transport: transport(acceptors, () => 0, log),
      sleep: noSleep,
    });
    await setRegister(proposer, "k", 1);
    log.length = 0;
    const result = await proposer.change("k", (current) => ({ ...current!, version: current!.version + 1 }));
    expect(result.roundTrips).toBe(1);
    expect(log.map((request) => request.op)).toEqual(["accept", "accept", "accept"]);
  });

  it("after a warm attempt rejected, waits for a prepare under way but retries at once after a finished write", async () => {
    const acceptors = fresh();
    const sleeps: number[] = [];
    // Replies come at once, so every rejection is in before the next round: any sleep is a backoff.
    const a = new Proposer({
      proposerId: "a",
      transport: immediate(acceptors),
      sleep: async (ms) => void sleeps.push(ms),
    });
    await setRegister(a, "k", "a1");
    // Another proposer's write that finished: acceptors promised to its next ballot, as its accept asks.
    const b = new Proposer({ proposerId: "b", transport: transport(acceptors), sleep: noSleep });
    await setRegister(b, "k", "b1");
    await setRegister(a, "k", "a2");
    expect(sleeps).toEqual([]);
    // A prepare under way (promised, nothing accepted at it yet): a's warm attempt waits before preempting.
    const ballot = "000000000000900:c";
    await Promise.all(acceptors.map((acceptor) => acceptor.prepare({ op: "prepare", key: "k", ballot })));
    expect((await setRegister(a, "k", "a3")).value).toBe("a3");
    expect(sleeps).toHaveLength(1);
  });

  it("writes in two round trips when its warm state went stale after another proposer's finished write", async () => {
    const acceptors = fresh();
    const log: AcceptorRequest[] = [];
    const a = new Proposer({
      proposerId: "a",
      transport: transport(acceptors, () => 0, log),
      sleep: noSleep,
    });
    const b = new Proposer({ proposerId: "b", transport: transport(acceptors), sleep: noSleep });
    await setRegister(a, "k", "a1");
    await setRegister(b, "k", "b1");
    await setRegister(b, "k", "b2");
    log.length = 0;
    // a's warm attempt is rejected; the rejections promise its fallback ballot and answer b2, so the
    // next round is phase 2 at once: accept (stale), accept (built on b2). No separate prepare.
    const result = await a.change("k", (current) => ({
      ...current!,
      version: current!.version + 1,
      value: "a2",
    }));
    expect(result.roundTrips).toBe(2);
    expect(result.before?.value).toBe("b2");
    expect(log.map((request) => request.op)).toEqual([
      "accept",
      "accept",
      "accept",
      "accept",
      "accept",
      "accept",
    ]);
    expect((await readRegister(b, "k")).value).toBe("a2");
  });

  it("gets no fallback promise over a prepare under way, so it cannot cut that write off", async () => {
    const acceptors = fresh();
    const log: AcceptorRequest[] = [];
    const sleeps: number[] = [];
    const a = new Proposer({
      proposerId: "a",
      transport: transport(acceptors, () => 0, log),
      sleep: (ms) => {
        sleeps.push(ms);
        return noSleep();
      },
    });
    await setRegister(a, "k", "a1");
    // c has prepared (every acceptor promised) and not yet sent its accept.
    const ballot = "000000000000900:c";
    await Promise.all(acceptors.map((acceptor) => acceptor.prepare({ op: "prepare", key: "k", ballot })));
    log.length = 0;
    const rejected = await Promise.all(
      acceptors.map((acceptor) =>
        acceptor.accept({
          op: "accept",
          key: "k",
          ballot: "000000000000002:a",
          state: { version: 9, value: "x", origin: "x" },
          fallback: true,
        }),
      ),
    );
    expect(rejected.map((reply) => (reply.ok ? "ok" : (reply.fallback ?? "none")))).toEqual([
      "none",
      "none",
      "none",
    ]);
    // c's accept still lands: no acceptor promised anything above its ballot.
    const c = await Promise.all(
      acceptors.map((acceptor) =>
        acceptor.accept({ op: "accept", key: "k", ballot, state: { version: 2, value: "c", origin: "c" } }),
      ),
    );
    expect(c.every((reply) => reply.ok)).toBe(true);
    // And a, warm and stale, writes on top of c's value.
    expect((await setRegister(a, "k", "a2")).version).toBe(3);
  });

  it("combines the calls on a key that arrive during its round into one round, applied in order", async () => {
    const acceptors = fresh();
    const log: AcceptorRequest[] = [];
    const proposer = new Proposer({
      proposerId: "p",
      transport: transport(acceptors, () => 1, log),
      sleep: noSleep,
    });
    await setRegister(proposer, "k", 0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    log.length = 0;
    // Eight increments at once: the first starts a round alone, the other seven share the next one.
    const increment = (current: RegisterState | undefined) => ({
      ...current!,
      value: (current!.value as number) + 1,
      version: current!.version + 1,
    });
    const results = await Promise.all(Array.from({ length: 8 }, () => proposer.change("k", increment)));
    expect(results.map((result) => result.combined)).toEqual([1, 7, 7, 7, 7, 7, 7, 7]);
    // Each saw the state the one before it made: no increment was lost.
    expect(results.map((result) => result.after!.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(results.slice(1).map((result) => result.before!.value)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(log.filter((request) => request.op === "accept")).toHaveLength(2 * ids.length);
    expect((await readRegister(proposer, "k")).value).toBe(8);
  });

  it("gives each combined call its own answer: one compare-and-set wins, the rest conflict or fail alone", async () => {
    const acceptors = fresh();
    const proposer = new Proposer({
      proposerId: "p",
      transport: transport(acceptors, () => 1),
      sleep: noSleep,
    });
    await setRegister(proposer, "k", "start");
    const blocker = setRegister(proposer, "k", "first");
    const settled = await Promise.allSettled([
      setRegister(proposer, "k", "a", 2),
      setRegister(proposer, "k", "b", 2),
      proposer.change("k", () => {
        throw new Error("a change that throws");
      }),
      setRegister(proposer, "k", "c"),
      readRegister(proposer, "k"),
    ]);
    expect((await blocker).version).toBe(2);
    expect(settled.map((outcome) => outcome.status)).toEqual([
      "fulfilled",
      "rejected",
      "rejected",
      "fulfilled",
      "fulfilled",
    ]);
    const [a, b, thrown, c, read] = settled;
    expect(a).toMatchObject({ value: { value: "a", version: 3 } });
    expect((b as PromiseRejectedResult).reason).toMatchObject({ code: "VersionConflict" });
    expect((thrown as PromiseRejectedResult).reason).toMatchObject({ message: "a change that throws" });
    expect(c).toMatchObject({ value: { value: "c", version: 4 } });
    expect(read).toMatchObject({ value: { value: "c", version: 4 } });
    expect(await readRegister(proposer, "k")).toMatchObject({ value: "c", version: 4 });
  });
});

/**
 * A proposer whose first accept reaches r0 only, and which then backs off until `resume()`: its attempt
 * sits on one acceptor, where another round may adopt it.
 */
function stalledAfterOneAccept(acceptors: MemoryAcceptor[]) {
  let firstRound = true;
  let resume: () => void = () => {};
  const proposer = new Proposer({
    proposerId: "a",
    transport: transport(acceptors, (request, replica) =>
      firstRound && request.op === "accept" && replica !== 0 ? undefined : 0,
    ),
    sleep: () => {
      if (!firstRound) return Promise.resolve();
      firstRound = false;
      return new Promise<void>((resolve) => {
        resume = resolve;
      });
    },
  });
  return { proposer, resume: () => resume() };
}

/** Another proposer, which reaches r0 and r1 (so it sees what sits on r0). */
const throughR0AndR1 = (acceptors: MemoryAcceptor[]) =>
  new Proposer({
    proposerId: "b",
    transport: transport(acceptors, (_, replica) => (replica === 2 ? undefined : 0)),
    sleep: noSleep,
  });

describe("a set whose attempt took effect without its knowing", () => {
  /** A's accept reaches r0 only; another proposer adopts it and writes `after` more times; A resumes. */
  async function buried(after: number) {
    const acceptors = fresh();
    const { proposer: writer, resume } = stalledAfterOneAccept(acceptors);
    const pending = setRegister(writer, "k", "mine").catch((error: DomainError) => error.code);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const other = throughR0AndR1(acceptors);
    expect(await readRegister(other, "k")).toMatchObject({ value: "mine", version: 1 });
    for (let write = 0; write < after; write++) await setRegister(other, "k", write);
    resume();
    return pending;
  }

  it("learns that it took effect while no more than the history's 32 writes came after it", async () => {
    expect(await buried(31)).toEqual({ key: "k", value: "mine", version: 1 });
  });

  it("answers OutcomeUnknown once more writes than the history holds came after it", async () => {
    expect(await buried(40)).toBe("OutcomeUnknown");
  });
});

describe("a set whose attempt another round adopted before its late rejections came", () => {
  /**
   * The key is at version 1. A's accept reaches r0 at once; its copies to r1 and r2 are slow. B prepares
   * through every replica, adopts A's state from r0 (so A's write is chosen at version 2), then writes
   * `after` more times. Only then do A's accepts reach r1 and r2, rejected with a higher accepted ballot.
   */
  async function adoptedThenRejected(after: number, ifVersion?: number) {
    const acceptors = fresh();
    const other = new Proposer({ proposerId: "b", transport: transport(acceptors), sleep: noSleep });
    await setRegister(other, "k", "first");
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held = true;
    const writer = new Proposer({
      proposerId: "a",
      sleep: noSleep,
      transport: {
        replicaIds: ids,
        // biome-ignore lint/suspicious/noExplicitAny: one body serves both overloads of call.
        call: (async (replicaId: string, request: AcceptorRequest): Promise<any> => {
          const acceptor = acceptors[ids.indexOf(replicaId)]!;
          if (request.op === "accept" && replicaId !== "r0" && held) await released;
          return request.op === "prepare" ? acceptor.prepare(request) : acceptor.accept(request);
        }) as ReplicaTransport["call"],
      },
    });
    const pending = setRegister(writer, "k", "mine", ifVersion).catch((error: DomainError) => error.code);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await readRegister(other, "k")).toMatchObject({ value: "mine", version: 2 });
    for (let write = 0; write < after; write++) await setRegister(other, "k", write);
    held = false;
    release();
    return { answer: await pending, final: await readRegister(other, "k") };
  }

  it("learns that it took effect from the history, with or without ifVersion", async () => {
    expect((await adoptedThenRejected(31, 1)).answer).toEqual({ key: "k", value: "mine", version: 2 });
    expect((await adoptedThenRejected(31)).answer).toEqual({ key: "k", value: "mine", version: 2 });
  });

  it("answers OutcomeUnknown, not VersionConflict, once the history no longer holds it", async () => {
    const { answer, final } = await adoptedThenRejected(40, 1);
    expect(answer).toBe("OutcomeUnknown");
    expect(final).toMatchObject({ value: 39, version: 42 });
  });

  it("never applies the write a second time once the history no longer holds it", async () => {
    const { answer, final } = await adoptedThenRejected(40);
    expect(answer).toBe("OutcomeUnknown");
    expect(final).toMatchObject({ value: 39, version: 42 });
  });
});

describe("a set run again after the run before it died (its Idempotency-Key taken over)", () => {
  /** The first run's accept reaches r0 only, then its environment dies; another proposer adopts it. */
  async function rerunAfter(after: number) {
    const acceptors = fresh();
    const { proposer: dead } = stalledAfterOneAccept(acceptors);
    void setRegister(dead, "k", "mine", undefined, "origin-1");
    await new Promise((resolve) => setTimeout(resolve, 5));
    const other = throughR0AndR1(acceptors);
    expect(await readRegister(other, "k")).toMatchObject({ value: "mine", version: 1 });
    for (let write = 0; write < after; write++) await setRegister(other, "k", write);
    // The retry runs on a fresh environment: a new proposer, the same origin.
    const fresh2 = new Proposer({ proposerId: "c", transport: transport(acceptors), sleep: noSleep });
    const answer = await setRegister(fresh2, "k", "mine", undefined, "origin-1", { rerun: true }).catch(
      (error: DomainError) => error.code,
    );
    return { answer, final: await readRegister(other, "k") };
  }

  it("finds the first run's write while the history holds it", async () => {
    expect((await rerunAfter(31)).answer).toEqual({ key: "k", value: "mine", version: 1 });
  });

  it("answers OutcomeUnknown, never a second write, once the history no longer holds it", async () => {
    const { answer, final } = await rerunAfter(40);
    expect(answer).toBe("OutcomeUnknown");
    expect(final).toMatchObject({ value: 39, version: 41 });
  });

  it("writes as usual when the history covers every version (nothing of the first run took effect)", async () => {
    const acceptors = fresh();
    const proposer = new Proposer({ proposerId: "c", transport: transport(acceptors), sleep: noSleep });
    await setRegister(proposer, "k", "before");
    expect(await setRegister(proposer, "k", "mine", undefined, "origin-2", { rerun: true })).toEqual({
      key: "k",
      value: "mine",
      version: 2,
    });
  });
});

describe("a set that gives up", () => {
  it("answers OutcomeUnknown, not NoQuorum, when an attempt of its own may still be adopted", async () => {
    const acceptors = fresh();
    let accepts = 0;
    // The first accept reaches r0 only; from then on r1 and r2 do not answer at all.
    const proposer = new Proposer({
      proposerId: "a",
      sleep: noSleep,
      transport: transport(acceptors, (request, replica) => {
        if (request.op === "accept") accepts++;
        return replica === 0 || accepts === 0 ? 0 : undefined;
      }),
    });
    await expect(setRegister(proposer, "k", "mine")).rejects.toMatchObject({ code: "OutcomeUnknown" });
  });

  it("answers NoQuorum when no attempt of its own was ever accepted anywhere", async () => {
    const proposer = new Proposer({
      proposerId: "a",
      sleep: noSleep,
      transport: transport(fresh(), (_, replica) => (replica === 0 ? 0 : undefined)),
    });
    await expect(setRegister(proposer, "k", "mine")).rejects.toMatchObject({ code: "NoQuorum" });
  });
});

describe("write-once and rewritable keys", () => {
  it("refuses to overwrite a write-once key, and to propose once on a rewritable key", async () => {
    const proposer = new Proposer({ proposerId: "p", transport: transport(fresh()), sleep: noSleep });
    expect((await proposeOnce(proposer, "once", "first")).won).toBe(true);
    await expect(setRegister(proposer, "once", "second")).rejects.toMatchObject({ code: "KeyKindConflict" });
    expect(await readRegister(proposer, "once")).toMatchObject({ value: "first", version: 1 });
    await setRegister(proposer, "rw", 1);
    await expect(proposeOnce(proposer, "rw", "x")).rejects.toMatchObject({ code: "KeyKindConflict" });
    expect(await readRegister(proposer, "rw")).toMatchObject({ value: 1, version: 1 });
  });

  it("answers won: true to the proposer whose value another round adopted before it returned", async () => {
    const acceptors = fresh();
    const { proposer: first, resume } = stalledAfterOneAccept(acceptors);
    const pending = proposeOnce(first, "once", "mine");
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Another proposer reading through r0 and r1 adopts it, then tries to overwrite it.
    const other = throughR0AndR1(acceptors);
    expect(await readRegister(other, "once")).toMatchObject({ value: "mine", version: 1 });
    await setRegister(other, "once", "overwritten").catch(() => {});
    resume();
    expect(await pending).toMatchObject({ value: "mine", version: 1, won: true });
  });
});

describe("what a register state keeps of a write's origin", () => {
  it("keeps a 12-character mark of the origin, and a retry with that origin finds its write", async () => {
    const acceptors = fresh();
    const proposer = new Proposer({ proposerId: "p", transport: immediate(acceptors), sleep: noSleep });
    const origin = "idem-a-long-idempotency-key-fingerprint-of-some-64-characters-0123456789";
    await setRegister(proposer, "k", "first", undefined, origin);
    await setRegister(proposer, "k", "second");
    const { after } = await proposer.change("k", (current) => current);
    expect(after!.recent!.map((write) => write.origin)).toEqual([originMark(origin), expect.any(String)]);
    expect(originMark(origin)).toMatch(/^[A-Za-z0-9_-]{12}$/);
    // The retry of the first write took effect at version 1: answered so, not applied again.
    expect(await setRegister(proposer, "k", "first", undefined, origin)).toEqual({
      key: "k",
      value: "first",
      version: 1,
    });
    expect((await readRegister(proposer, "k")).version).toBe(2);
  });

  it("still finds a write in a state stored before marks were kept (the origin itself)", async () => {
    const acceptors = fresh();
    const proposer = new Proposer({ proposerId: "p", transport: immediate(acceptors), sleep: noSleep });
    const origin = "an-origin-stored-whole";
    await proposer.change("k", () => ({
      version: 1,
      value: "old",
      origin,
      recent: [{ version: 1, origin }],
    }));
    await setRegister(proposer, "k", "newer");
    expect(await setRegister(proposer, "k", "old", undefined, origin)).toEqual({
      key: "k",
      value: "old",
      version: 1,
    });
    expect((await readRegister(proposer, "k")).version).toBe(2);
  });
});

describe("the DynamoDB acceptor's stored form of a state", () => {
  const state = {
    version: 3,
    value: { r: ["not", "the", "history"] },
    origin: "m3",
    recent: [
      { version: 2, origin: "m2" },
      { version: 3, origin: "with:colon" },
    ],
  };
  it("round-trips, with the history as version:origin strings, a fraction of the object form", () => {
    const stored = encodeState(state);
    expect(JSON.parse(stored).r).toEqual(["2:m2", "3:with:colon"]);
    expect(decodeState(stored)).toEqual(state);
    expect(stored.length).toBeLessThan(JSON.stringify(state).length);
  });
  it("reads a state stored in the object form, and a state without history, as they are", () => {
    expect(decodeState(JSON.stringify(state))).toEqual(state);
    const plain = { version: 1, value: 1, origin: "o", writeOnce: true as const };
    expect(decodeState(encodeState(plain))).toEqual(plain);
  });
});
