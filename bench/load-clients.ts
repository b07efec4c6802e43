/**
 * The load suite's clients, in a process of their own as a user's clients would be: in the local cloud's
 * process they would take its main thread's time (signing, fetch) from the HTTP API, the Lambda API and
 * the event sources. Run by bench/load.ts with its settings as JSON in argv[2]; prints the samples as JSON.
 */

import { ApiClient, ApiError, signedFetch, UnknownOutcomeError } from "@serverless-coordination/client";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";

/** The mix: each request is one of these, by weight. */
export const MIX = [
  { kind: "lookup (GET /sessions/{id})", weight: 40 },
  { kind: "Paxos set (PUT /paxos/{key})", weight: 15 },
  { kind: "KV write primary (PUT /kv/{key})", weight: 15 },
  { kind: "KV write all (PUT /kv/{key})", weight: 10 },
  { kind: "KV read (GET /kv/{key})", weight: 20 },
] as const;

export interface Sample {
  kind: string;
  /** When it was sent, in ms from the phase's start. */
  at: number;
  ms: number;
  outcome: "ok" | "unknown" | "failed";
  /** The error code (or "no answer") of an outcome other than ok. */
  code?: string;
}

export interface LoadSettings {
  apiUrl: string;
  accessKeyId: string;
  clients: number;
  seconds: number;
  /** "floor": GET /health only; "mixed": the MIX. */
  phase: "floor" | "mixed";
  /** Prefix of the keys, unique to the run. */
  run: string;
  /** Start only on a line on stdin (so that the process's own start is not in the measured time). */
  waitForGo?: boolean;
}

export async function runClients(settings: LoadSettings) {
  const client = new ApiClient({
    endpoint: settings.apiUrl,
    fetch: signedFetch({ region: LOCAL_REGION, credentials: localCredentials(settings.accessKeyId) }),
    maxAttempts: 1,
  });
  if (settings.phase === "floor")
    return drive(
      settings.clients,
      settings.seconds,
      () => "GET /health",
      async () => {
        await client.health();
      },
    );
  const total = MIX.reduce((sum, entry) => sum + entry.weight, 0);
  const pick = (r: number) => {
    let left = r * total;
    for (const entry of MIX) {
      left -= entry.weight;
      if (left < 0) return entry.kind;
    }
    return MIX[0].kind;
  };
  return drive(
    settings.clients,
    settings.seconds,
    () => pick(Math.random()),
    async (kind, i) => {
      const key = `load-${settings.run}-${Math.floor(Math.random() * 256)}`;
      if (kind.startsWith("lookup")) await client.sessions.lookupUncached(`sess-${key}`);
      else if (kind.startsWith("Paxos")) await client.paxos.set(key, i);
      else if (kind.startsWith("KV write primary")) await client.kv.put(key, i, "primary");
      else if (kind.startsWith("KV write all")) await client.kv.put(key, i, "all");
      else
        await client.kv.get(key).catch((error: unknown) => {
          if (!(error instanceof ApiError && error.code === "KeyNotFound")) throw error;
        });
    },
  );
}

/** Runs `clients` loops of requests for `seconds`; every request's kind, duration and outcome. */
async function drive(
  clients: number,
  seconds: number,
  choose: () => string,
  request: (kind: string, i: number) => Promise<void>,
) {
  const samples: Sample[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const kind = choose();
        const at = performance.now();
        let outcome: Sample["outcome"] = "ok";
        let code: string | undefined;
        try {
          await request(kind, i++);
        } catch (error) {
          // A 4xx is a definite refusal; a 503, a 5xx or no answer leaves the outcome unknown.
          outcome = error instanceof ApiError && error.status < 500 ? "failed" : "unknown";
          if (error instanceof UnknownOutcomeError) outcome = "unknown";
          code = error instanceof ApiError || error instanceof UnknownOutcomeError ? error.code : "no answer";
        }
        samples.push({
          kind,
          at: Math.round(at - started),
          ms: performance.now() - at,
          outcome,
          ...(code ? { code } : {}),
        });
      }
    }),
  );
  return { samples, elapsedMs: performance.now() - started };
}

if (import.meta.main) {
  const settings = JSON.parse(process.argv[2] ?? "{}") as LoadSettings;
  if (settings.waitForGo)
    await new Promise((resolve) => {
      process.stdin.once("data", resolve);
      process.stdin.resume();
    });
  const result = await runClients(settings);
  // A pipe takes the write asynchronously: exit once it is flushed.
  process.stdout.write(JSON.stringify(result), () => process.exit(0));
}
