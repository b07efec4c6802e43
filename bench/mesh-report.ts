/**
 * `npm run mesh:report [-- --clients 300 --backends 300 --subset 10 --seed 1 --servers 10 --keys 100000]`:
 * a seeded simulation comparing full mesh, random subsetting and deterministic subsetting, and the
 * lookup service's consistent hashing; written to docs/mesh.md with SVG charts under docs/mesh/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { fromRoot } from "../infra/paths.ts";
import { moduloHash, rendezvous } from "../shared/mesh/hashing.ts";
import { seededRandom } from "../shared/mesh/random.ts";
import { deterministicSubset, fullMesh, randomSubset } from "../shared/mesh/subsetting.ts";
import { table } from "./lib.ts";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "300" },
    backends: { type: "string", default: "300" },
    subset: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
    servers: { type: "string", default: "10" },
    keys: { type: "string", default: "100000" },
  },
});
const positive = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return value;
};
const CLIENTS = positive("clients");
const BACKENDS = positive("backends");
const SUBSET = positive("subset");
const SEED = positive("seed");
const SERVERS = positive("servers");
const KEYS = positive("keys");

const names = (n: number, prefix: string, from = 0) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i + from).padStart(4, "0")}`);

type Strategy = { name: string; subsets: (backends: string[]) => string[][] };
const strategies: Strategy[] = [
  { name: "full mesh", subsets: (backends) => Array.from({ length: CLIENTS }, () => fullMesh(backends)) },
  {
    name: "random subsetting",
    // Each client seeds its own choice, so it picks the same subset from the same backend list.
    subsets: (backends) =>
      Array.from({ length: CLIENTS }, (_, client) =>
        randomSubset(backends, SUBSET, seededRandom(SEED * 1_000_003 + client)),
      ),
  },
  {
    name: "deterministic subsetting",
    subsets: (backends) =>
      Array.from({ length: CLIENTS }, (_, client) => deterministicSubset(backends, client, SUBSET)),
  },
];

function stats(numbers: number[]) {
  const mean = numbers.reduce((sum, n) => sum + n, 0) / numbers.length;
  const variance = numbers.reduce((sum, n) => sum + (n - mean) ** 2, 0) / numbers.length;
  return { min: Math.min(...numbers), max: Math.max(...numbers), mean, stddev: Math.sqrt(variance) };
}
const fixed = (n: number, digits = 2) => n.toFixed(digits);
const percent = (n: number) => `${(n * 100).toFixed(1)}%`;

function connectionsPerBackend(backends: string[], subsets: string[][]): number[] {
  const counts = new Map(backends.map((backend) => [backend, 0]));
  for (const subset of subsets) for (const backend of subset) counts.set(backend, counts.get(backend)! + 1);
  return backends.map((backend) => counts.get(backend)!);
}

/** One client's query crashes every backend it reaches: who is hit, averaged over every client as the origin. */
function queryOfDeath(backends: string[], subsets: string[][]) {
  let backendsHit = 0;
  let clientsHit = 0;
  let clientsDown = 0;
  let worstClientsDown = 0;
  const sets = subsets.map((subset) => new Set(subset));
  for (const origin of sets) {
    backendsHit += origin.size / backends.length;
    let hit = 0;
    let down = 0;
    for (const subset of sets) {
      let lost = 0;
      for (const backend of subset) if (origin.has(backend)) lost++;
      if (lost > 0) hit++;
      if (lost === subset.size) down++;
    }
    clientsHit += hit / sets.length;
    clientsDown += down / sets.length;
    worstClientsDown = Math.max(worstClientsDown, down / sets.length);
  }
  const n = sets.length;
  return {
    backendsHit: backendsHit / n,
    clientsHit: clientsHit / n,
    clientsDown: clientsDown / n,
    worstClientsDown,
  };
}

/** Clients whose subset changed, and connections opened or closed per client, when the backends change. */
function churn(before: string[][], after: string[][]) {
  let changed = 0;
  let connections = 0;
  for (const [i, subset] of before.entries()) {
    const a = new Set(subset);
    const b = new Set(after[i]!);
    const closed = [...a].filter((backend) => !b.has(backend)).length;
    const opened = [...b].filter((backend) => !a.has(backend)).length;
    if (closed + opened > 0) changed++;
    connections += closed + opened;
  }
  return { clientsChanged: changed / before.length, connectionsPerClient: connections / before.length };
}

function barChart(title: string, data: number[], yMax: number, file: string): string {
  const width = 640;
  const height = 240;
  const left = 40;
  const bottom = 30;
  const plotWidth = width - left - 10;
  const plotHeight = height - bottom - 30;
  const barWidth = plotWidth / data.length;
  const bars = data
    .map((value, i) => {
      const h = (value / yMax) * plotHeight;
      return `<rect x="${(left + i * barWidth).toFixed(2)}" y="${(30 + plotHeight - h).toFixed(2)}" width="${Math.max(0.5, barWidth - 0.3).toFixed(2)}" height="${h.toFixed(2)}" fill="#4477aa"/>`;
    })
    .join("");
  const ticks = [0, 0.5, 1]
    .map((fraction) => {
      const y = 30 + plotHeight - fraction * plotHeight;
      return `<line x1="${left}" x2="${width - 10}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${left - 4}" y="${y + 4}" font-size="10" text-anchor="end">${Math.round(fraction * yMax)}</text>`;
    })
    .join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img" aria-labelledby="title">
<title id="title">${title}</title>
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="18" font-size="13" text-anchor="middle">${title}</text>
${ticks}${bars}
<text x="${left + plotWidth / 2}" y="${height - 8}" font-size="11" text-anchor="middle">backends, sorted by connection count</text>
</svg>
`;
  writeFileSync(fromRoot(`docs/mesh/${file}`), svg);
  return `docs/mesh/${file}`;
}

mkdirSync(fromRoot("docs/mesh"), { recursive: true });
const backends = names(BACKENDS, "backend-");
const results = strategies.map((strategy) => {
  const subsets = strategy.subsets(backends);
  const load = connectionsPerBackend(backends, subsets);
  const removed = backends.filter((_, i) => i !== Math.floor(SEED * 7919) % BACKENDS);
  const added = [...backends, ...names(1, "backend-", BACKENDS)];
  return {
    name: strategy.name,
    load,
    loadStats: stats(load),
    death: queryOfDeath(backends, subsets),
    churnRemove: churn(subsets, strategy.subsets(removed)),
    churnAdd: churn(subsets, strategy.subsets(added)),
  };
});
const yMax = Math.max(...results.filter((r) => r.name !== "full mesh").map((r) => r.loadStats.max));
const charts = results
  .filter((result) => result.name !== "full mesh")
  .map((result) => ({
    name: result.name,
    path: barChart(
      `${result.name}: clients per backend (${CLIENTS} clients, ${BACKENDS} backends, subset ${SUBSET})`,
      [...result.load].sort((a, b) => a - b),
      yMax,
      `connections-${result.name.split(" ")[0]}.svg`,
    ),
  }));

// Consistent hashing of sessions to servers, SERVERS → SERVERS + 1.
const keys = names(KEYS, "session-");
const before = names(SERVERS, "server-");
const after = names(SERVERS + 1, "server-");
const hashing = [
  { name: "rendezvous (used by the lookup service)", pick: rendezvous },
  { name: "modulo (hash mod n), for comparison", pick: moduloHash },
].map(({ name, pick }) => {
  const loadBefore = new Map<string, number>();
  const loadAfter = new Map<string, number>();
  let moved = 0;
  for (const key of keys) {
    const a = pick(key, before)!;
    const b = pick(key, after)!;
    loadBefore.set(a, (loadBefore.get(a) ?? 0) + 1);
    loadAfter.set(b, (loadAfter.get(b) ?? 0) + 1);
    if (a !== b) moved++;
  }
  const balance = (load: Map<string, number>, n: number) => {
    const s = stats([...load.values()]);
    return { maxOverMean: s.max / (KEYS / n), stddevOverMean: s.stddev / (KEYS / n) };
  };
  return {
    name,
    moved: moved / KEYS,
    before: balance(loadBefore, SERVERS),
    after: balance(loadAfter, SERVERS + 1),
  };
});

const deterministic = results.find((result) => result.name === "deterministic subsetting")!;
const evenByBook = CLIENTS % Math.floor(BACKENDS / SUBSET) === 0 && BACKENDS % SUBSET === 0;
const markdown = `# Mesh: full mesh, subsetting and consistent hashing

Generated by \`npm run mesh:report -- --clients ${CLIENTS} --backends ${BACKENDS} --subset ${SUBSET} --seed ${SEED} --servers ${SERVERS} --keys ${KEYS}\`;
change the parameters on the command line. The code is in \`shared/mesh/\`; the lookup service uses the
same functions (\`GET /mesh/subsets/{clientId}?size=k\`, and rendezvous hashing for new sessions).

## Connections per backend

${table(
  ["strategy", "connections", "min", "max", "mean", "std dev"],
  results.map((result) => [
    result.name,
    result.load.reduce((sum, n) => sum + n, 0),
    result.loadStats.min,
    result.loadStats.max,
    fixed(result.loadStats.mean),
    fixed(result.loadStats.stddev),
  ]),
)}

A full mesh opens clients × backends connections. Random subsetting opens ${CLIENTS * SUBSET} but spreads them
unevenly: the busiest backend serves ${results[1]!.loadStats.max} clients, the idlest ${results[1]!.loadStats.min}.
Deterministic subsetting (the algorithm of the Google SRE book, chapter "Load Balancing in the
Datacenter") deals each round's shuffled backend list out in disjoint slices, so ${
  evenByBook
    ? `with ${CLIENTS} clients a multiple of the round size (${Math.floor(BACKENDS / SUBSET)}) and ${BACKENDS} backends a multiple of ${SUBSET}, every backend has exactly the same number of clients: min ${deterministic.loadStats.min}, max ${deterministic.loadStats.max}.`
    : `every backend is within a round's worth of the others (min ${deterministic.loadStats.min}, max ${deterministic.loadStats.max}); the counts are exactly equal when the clients are a multiple of backends/subset and the backends a multiple of the subset size.`
}

${charts.map((chart) => `![${chart.name}](${chart.path.replace("docs/", "")})`).join("\n")}

## Query of death

One client sends a query that crashes every backend it reaches. Averaged over every client as the sender:

${table(
  [
    "strategy",
    "backends crashed",
    "clients that lose a backend",
    "clients that lose all their backends",
    "worst case: clients down",
  ],
  results.map((result) => [
    result.name,
    percent(result.death.backendsHit),
    percent(result.death.clientsHit),
    percent(result.death.clientsDown),
    percent(result.death.worstClientsDown),
  ]),
)}

With a full mesh the query takes everything down. Subsetting contains it to the sender's ${SUBSET} backends;
with deterministic subsetting the clients of the same slice share exactly those backends, so they go
down with the sender, and nobody else loses more than part of their subset.

## Churn when backends change

Each client's subset is computed again from the new backend list (one removed, or one added):

${table(
  [
    "strategy",
    "remove one: clients changed",
    "connections changed per client",
    "add one: clients changed",
    "connections changed per client",
  ],
  results.map((result) => [
    result.name,
    percent(result.churnRemove.clientsChanged),
    fixed(result.churnRemove.connectionsPerClient),
    percent(result.churnAdd.clientsChanged),
    fixed(result.churnAdd.connectionsPerClient),
  ]),
)}

The price of deterministic subsetting's balance: one backend more or less reshuffles the rounds, and many
clients change subsets. A deployment that resizes often can compute subsets over a stable list of
backend slots instead of live backends.

## Consistent hashing of sessions: ${SERVERS} → ${SERVERS + 1} servers

${table(
  [
    "hashing",
    `max/mean load, ${SERVERS} servers`,
    `std dev/mean, ${SERVERS}`,
    `max/mean, ${SERVERS + 1}`,
    `std dev/mean, ${SERVERS + 1}`,
    "sessions moved",
  ],
  hashing.map((h) => [
    h.name,
    fixed(h.before.maxOverMean, 3),
    fixed(h.before.stddevOverMean, 3),
    fixed(h.after.maxOverMean, 3),
    fixed(h.after.stddevOverMean, 3),
    percent(h.moved),
  ]),
)}

${KEYS} sessions. The least any scheme can move is 1/${SERVERS + 1} = ${percent(1 / (SERVERS + 1))} of the sessions
(the new server's share). Rendezvous hashing moves about that, all to the new server, with the balance of
a uniform hash; modulo hashing moves most sessions. In the lookup service a live lease keeps a session
where it is anyway: hashing only decides where a session without a live lease goes.
`;
writeFileSync(fromRoot("docs/mesh.md"), markdown);
writeFileSync(
  fromRoot("docs/mesh/report.json"),
  `${JSON.stringify(
    {
      parameters: { CLIENTS, BACKENDS, SUBSET, SEED, SERVERS, KEYS },
      strategies: results.map(({ load, ...rest }) => rest),
      hashing,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote docs/mesh.md, ${charts.map((chart) => chart.path).join(", ")} and docs/mesh/report.json`);
for (const result of results)
  console.log(
    `  ${result.name}: connections per backend min ${result.loadStats.min}, max ${result.loadStats.max}, std dev ${fixed(result.loadStats.stddev)}`,
  );
