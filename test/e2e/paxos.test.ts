/** The consensus routes end to end: through the HTTP API, the Api proposer and the replica Lambdas. */

import { ApiClient, ApiError, UnknownOutcomeError } from "@serverless-coordination/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callApi, type Json, readJson } from "../support/http.ts";
import {
  checkLinearizable,
  type HistoryEntry,
  type RegisterOp,
  type RegisterOutput,
} from "../support/linearizability.ts";
import { eventually, uniqueId } from "../support/local-cloud.ts";
import { type E2ETarget, startTarget } from "../support/target.ts";

let target: E2ETarget;
beforeAll(async () => {
  target = await startTarget();
  // Warm the Api and replica environments first: the agreement test is about concurrency, not about
  // cold starts on two cores (which can push replica calls past their timeout into 503 NoQuorum).
  await Promise.all(Array.from({ length: 4 }, (_, i) => callApi(target.baseUrl, "GET", `/paxos/warm-${i}`)));
});
// Every test starts with every function healthy, whatever a failed test before it left faulted.
afterEach(async () => {
  if (target?.cloud)
    for (const id of ["Replica1", "Replica2", "Replica3", "Api"]) await target.cloud.fault(id, "none");
});
afterAll(async () => {
  await target?.stop();
});

const url = (key: string) => `${target.baseUrl}/paxos/${key}`;
const call = (method: string, key: string, body?: unknown) =>
  callApi(target.baseUrl, method, `/paxos/${key}`, body);

describe("write-once propose", () => {
  it("50 concurrent proposers of distinct values all learn one value; exactly the one whose value was chosen wins", async () => {
    const key = `once-${uniqueId()}`;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call("POST", key, { value: `v${i}` })),
    );
    const failed = answers.filter((answer) => answer.status !== 200).map((answer) => answer.body);
    expect(
      answers.map((answer) => answer.status),
      JSON.stringify(failed),
    ).toEqual(Array(50).fill(200));
    const values = new Set(answers.map((answer) => answer.body.value));
    expect(values.size).toBe(1);
    // Every call answered, so the call whose value was chosen answered too, and only it won.
    const winners = answers.flatMap((answer, i) => (answer.body.won ? [`v${i}`] : []));
    expect(winners).toEqual([...values]);
    const read = await call("GET", key);
    expect(read).toEqual({ status: 200, body: { key, value: [...values][0], version: 1 } });
  });

  it("keeps write-once and rewritable keys apart: 409 KeyKindConflict either way", async () => {
    const once = `once-${uniqueId()}`;
    expect((await call("POST", once, { value: 1 })).body.won).toBe(true);
    expect(await call("PUT", once, { value: 2 })).toMatchObject({
      status: 409,
      body: { error: { code: "KeyKindConflict" } },
    });
    const rewritable = `rw-${uniqueId()}`;
    await call("PUT", rewritable, { value: 1 });
    expect(await call("POST", rewritable, { value: 2 })).toMatchObject({
      status: 409,
      body: { error: { code: "KeyKindConflict" } },
    });
    expect((await call("GET", once)).body).toEqual({ key: once, value: 1, version: 1 });
  });
});

describe("rewritable register", () => {
  it("sets, compares-and-sets and reads with versions", async () => {
    const key = `reg-${uniqueId()}`;
    expect(await call("GET", key)).toMatchObject({ status: 404, body: { error: { code: "KeyNotFound" } } });
    expect(await call("PUT", key, { value: { a: 1 } })).toEqual({
      status: 200,
      body: { key, value: { a: 1 }, version: 1 },
    });
    expect(await call("PUT", key, { value: 2, ifVersion: 1 })).toEqual({
      status: 200,
      body: { key, value: 2, version: 2 },
    });
    const stale = await call("PUT", key, { value: 3, ifVersion: 1 });
    expect(stale).toMatchObject({
      status: 409,
      body: { error: { code: "VersionConflict", value: 2, version: 2 } },
    });
    expect(await call("GET", key)).toEqual({ status: 200, body: { key, value: 2, version: 2 } });
  });

  it("rejects bad input with 400 and writes nothing", async () => {
    const key = `bad-${uniqueId()}`;
    expect((await call("PUT", "bad key!", { value: 1 })).status).toBe(400);
    const badJson = await target.fetch(url(key), { method: "PUT", body: "{not json" });
    expect(badJson.status).toBe(400);
    expect((await readJson(badJson)).error.code).toBe("InvalidJson");
    const big = await call("PUT", key, { value: "x".repeat(64 * 1024 + 1) });
    expect(big).toMatchObject({ status: 400, body: { error: { code: "InvalidBody" } } });
    expect((await call("PUT", key, {})).status).toBe(400);
    expect((await call("PUT", key, { value: 1, ifVersion: -1 })).status).toBe(400);
    expect((await call("POST", key, { nothing: 1 })).status).toBe(400);
    expect((await call("GET", key)).status).toBe(404);
  });
});

describe.runIf(!process.env.E2E_BASE_URL)("metrics (local cloud)", () => {
  it("counts the round trips of each change: a new key takes at least two (prepare, accept)", async () => {
    const key = `metrics-${uniqueId()}`;
    const roundTrips = async () => {
      const { metrics } = (await (await fetch(`${target.cloud!.lambdaEndpoint}/_local/metrics`)).json()) as {
        metrics: Array<{ name: string; sum: number; count: number }>;
      };
      const found = metrics.filter((metric) => metric.name === "PaxosRoundTrips");
      return {
        sum: found.reduce((sum, metric) => sum + metric.sum, 0),
        count: found.reduce((sum, metric) => sum + metric.count, 0),
      };
    };
    const before = await roundTrips();
    expect((await call("PUT", key, { value: 1 })).status).toBe(200);
    const cold = await eventually(roundTrips, (now) => now.count > before.count);
    expect(cold.count - before.count).toBe(1);
    expect(cold.sum - before.sum).toBeGreaterThanOrEqual(2);
  });
});

describe.runIf(!process.env.E2E_BASE_URL)("replica faults (local cloud)", () => {
  it("keeps serving with one replica failing or hanging", async () => {
    const key = `fault-${uniqueId()}`;
    await target.cloud!.fault("Replica1", "error");
    expect((await call("PUT", key, { value: "a" })).status).toBe(200);
    await target.cloud!.fault("Replica1", "timeout");
    expect(await call("PUT", key, { value: "b", ifVersion: 1 })).toMatchObject({
      status: 200,
      body: { version: 2 },
    });
    expect(await call("GET", key)).toMatchObject({ status: 200, body: { value: "b", version: 2 } });
    await target.cloud!.fault("Replica1", "none");
  });

  it("answers 503 NoQuorum with a majority down, and a concurrent history after reset is linearizable", async () => {
    const key = `quorum-${uniqueId()}`;
    expect((await call("PUT", key, { value: 0 })).status).toBe(200);
    await target.cloud!.fault("Replica1", "error");
    await target.cloud!.fault("Replica2", "timeout");
    // NoQuorum; or, when the Api environment was warm for the key, OutcomeUnknown: its one-round accept
    // reached the live replica, where a later round may adopt it, and running it again could apply it
    // twice.
    const refused = await call("PUT", key, { value: 1 });
    expect(refused.status).toBe(503);
    expect([{ code: "NoQuorum" }, { code: "OutcomeUnknown", gaveUp: "NoQuorum" }]).toContainEqual({
      code: refused.body.error.code,
      ...(refused.body.error.gaveUp ? { gaveUp: refused.body.error.gaveUp } : {}),
    });
    expect(await call("GET", key)).toMatchObject({ status: 503, body: { error: { code: "NoQuorum" } } });
    await target.cloud!.fault("Replica1", "none");
    await target.cloud!.fault("Replica2", "none");

    const history: HistoryEntry[] = [];
    const started = performance.now();
    const client = async (id: number) => {
      for (let i = 0; i < 6; i++) {
        const choice = (id + i) % 3;
        const op: RegisterOp =
          choice === 0
            ? { kind: "get" }
            : choice === 1
              ? { kind: "set", value: `c${id}-${i}` }
              : { kind: "set", value: `c${id}-${i}`, ifVersion: i };
        const entry: HistoryEntry = { op, call: performance.now() - started };
        history.push(entry);
        const answer = await call(
          op.kind === "get" ? "GET" : "PUT",
          key,
          op.kind === "get" ? undefined : { value: op.value, ifVersion: op.ifVersion },
        );
        entry.ret = performance.now() - started;
        entry.output = toOutput(op, answer);
        if (!entry.output) delete entry.ret; // an error answer leaves the outcome unknown
      }
    };
    await Promise.all([0, 1, 2, 3].map(client));
    // The history starts with the write before the faults, then the write that answered 503: its outcome is
    // unknown (a warm proposer skips phase 1, so its accept may have reached the one live replica and be
    // carried forward later by the viral property).
    history.unshift(
      { op: { kind: "set", value: 0 }, call: -3, ret: -2, output: { kind: "set", ok: true, version: 1 } },
      { op: { kind: "set", value: 1 }, call: -1 },
    );
    expect(history.filter((entry) => entry.output).length).toBeGreaterThan(20);
    const verdict = checkLinearizable(history);
    if (!verdict.linearizable) console.log(JSON.stringify(history));
    expect(verdict.linearizable).toBe(true);
  });
});

function toOutput(op: RegisterOp, answer: { status: number; body: Json }): RegisterOutput | undefined {
  if (op.kind === "get") {
    if (answer.status === 404) return { kind: "get", found: false };
    if (answer.status === 200)
      return { kind: "get", found: true, version: answer.body.version, value: answer.body.value };
    return undefined;
  }
  if (answer.status === 200) return { kind: "set", ok: true, version: answer.body.version };
  if (answer.status === 409 && answer.body.error.code === "VersionConflict") {
    return { kind: "set", ok: false, version: answer.body.error.version, value: answer.body.error.value };
  }
  return undefined;
}

describe("Idempotency-Key on the registers", () => {
  it("a set or a propose retried with the same key takes effect once and answers the first outcome", async () => {
    const key = `idem-${uniqueId()}`;
    const headers = { "idempotency-key": `k-${uniqueId()}` };
    const first = await callApi(target.baseUrl, "PUT", `/paxos/${key}`, { value: "x" }, headers);
    const retry = await callApi(target.baseUrl, "PUT", `/paxos/${key}`, { value: "x" }, headers);
    expect(first).toMatchObject({ status: 200, body: { version: 1 } });
    expect(retry.body).toEqual(first.body);
    expect((await call("GET", key)).body).toEqual({ key, value: "x", version: 1 });
    const once = `once-${uniqueId()}`;
    const proposeHeaders = { "idempotency-key": `k-${uniqueId()}` };
    const won = await callApi(target.baseUrl, "POST", `/paxos/${once}`, { value: "mine" }, proposeHeaders);
    expect(won.body.won).toBe(true);
    expect(
      (await callApi(target.baseUrl, "POST", `/paxos/${once}`, { value: "mine" }, proposeHeaders)).body.won,
    ).toBe(true);
  });
});

describe("late and lost replies, through the typed client's retries", () => {
  it("apply no write twice, and every answer fits one linearizable history", async (context) => {
    // Faults are the local cloud's: a deployed stack is not faulted from here.
    if (!target.cloud) return context.skip();
    const cloud = target.cloud;
    const key = `late-${uniqueId()}`;
    const client = new ApiClient({
      endpoint: target.baseUrl,
      fetch: target.fetch,
      backoffMs: 50,
      maxAttempts: 5,
    });
    await client.paxos.set(key, "start");
    // Replica1's requests arrive late (some after their round was lost), Replica2 runs every request and
    // loses its reply, and the Api itself loses its replies half the time: the client retries those with
    // the same Idempotency-Key while the write may already have taken effect.
    await cloud.fault("Replica1", "delay", { delayMs: 50, jitterMs: 700 });
    await cloud.fault("Replica2", "lose-reply");
    let faulting = true;
    const apiFaults = (async () => {
      for (let turn = 0; faulting; turn++) {
        await cloud.fault("Api", turn % 2 === 0 ? "lose-reply" : "none");
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
      await cloud.fault("Api", "none");
    })();

    const history: HistoryEntry[] = [
      {
        op: { kind: "set", value: "start" },
        call: -2,
        ret: -1,
        output: { kind: "set", ok: true, version: 1 },
      },
    ];
    const started = performance.now();
    const writer = async (id: number) => {
      for (let i = 0; i < 6; i++) {
        const op: RegisterOp =
          i % 3 === 0
            ? { kind: "get" }
            : i % 3 === 1
              ? { kind: "set", value: `w${id}-${i}` }
              : { kind: "set", value: `w${id}-${i}`, ifVersion: 1 + i };
        const entry: HistoryEntry = { op, call: performance.now() - started };
        history.push(entry);
        try {
          if (op.kind === "get") {
            const read = await client.paxos.read(key);
            entry.output = { kind: "get", found: true, version: read.version, value: read.value };
          } else if (op.kind === "set") {
            const set = await client.paxos.set(key, op.value, { ifVersion: op.ifVersion });
            entry.output = { kind: "set", ok: true, version: set.version };
          }
          entry.ret = performance.now() - started;
        } catch (error) {
          if (error instanceof ApiError && error.code === "VersionConflict") {
            entry.output = {
              kind: "set",
              ok: false,
              version: Number(error.details.version),
              value: error.details.value,
            };
            entry.ret = performance.now() - started;
          } else if (!(error instanceof UnknownOutcomeError || error instanceof ApiError)) throw error;
          // Unknown: it may have taken effect at any point after its call, or never.
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(writer));
    faulting = false;
    await apiFaults;
    for (const id of ["Replica1", "Replica2"]) await cloud.fault(id, "none");
    // A final read, after every write's effects settled, pins the history down.
    const last = await client.paxos.read(key);
    history.push({
      op: { kind: "get" },
      call: performance.now() - started,
      ret: performance.now() - started,
      output: { kind: "get", found: true, version: last.version, value: last.value },
    });
    // The Api's lost replies were retried with their Idempotency-Keys (and answered from the first run).
    expect(client.requests).toBeGreaterThan(history.length);
    expect(history.filter((entry) => entry.output).length).toBeGreaterThan(8);
    const verdict = checkLinearizable(history);
    if (!verdict.linearizable) console.log(JSON.stringify(history));
    expect(verdict.linearizable).toBe(true);
    // No value was written twice: at most one version per set, and no more versions than sets.
    const sets = history.filter((entry) => entry.op.kind === "set").length;
    expect(last.version).toBeLessThanOrEqual(sets);
  }, 180_000);
});
