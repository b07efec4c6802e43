/**
 * `npm run mesh:report [-- --clients 300 --backends 300 --subset 10 --seed 1 --servers 10 --keys 100000]`:
 * a seeded simulation comparing full mesh, random subsetting and deterministic subsetting, and the
 * lookup service's consistent hashing; written to docs/mesh.md with SVG charts under docs/mesh/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  churnRatio,
  deterministicSubset,
  fullMesh,
  moduloHash,
  type ResizeScore,
  randomSubset,
  recomputedSlots,
  rendezvous,
  replay,
  type Subsetter,
  seededRandom,
  slotSubsetter,
} from "@serverless-coordination/core/mesh";
import { fromRoot } from "../infra/paths.ts";
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

/** A strategy makes a fresh subsetter (slot subsetting keeps its slot map from one backend list to the next). */
type Strategy = { name: string; file: string; size: number; make: () => Subsetter };
const stateless = (name: string, subsets: (backends: readonly string[]) => string[][]) => () => ({
  name,
  subsets,
});
const strategies: Strategy[] = [
  {
    name: "full mesh",
    file: "full",
    size: Number.MAX_SAFE_INTEGER,
    make: stateless("full mesh", (backends) => Array.from({ length: CLIENTS }, () => fullMesh(backends))),
  },
  {
    name: "random subsetting",
    file: "random",
    size: SUBSET,
    // Each client seeds its own choice, so it picks the same subset from the same backend list.
    make: stateless("random subsetting", (backends) =>
      Array.from({ length: CLIENTS }, (_, client) =>
        randomSubset(backends, SUBSET, seededRandom(SEED * 1_000_003 + client)),
      ),
    ),
  },
  {
    name: "deterministic subsetting",
    file: "deterministic",
    size: SUBSET,
    make: stateless("deterministic subsetting", (backends) =>
      Array.from({ length: CLIENTS }, (_, client) => deterministicSubset(backends, client, SUBSET)),
    ),
  },
  {
    name: "slot subsetting",
    file: "slot",
    size: SUBSET,
    make: () => slotSubsetter(CLIENTS, SUBSET),
  },
  {
    name: "slot subsetting, slots recomputed (naive)",
    file: "slot-naive",
    size: SUBSET,
    make: () => slotSubsetter(CLIENTS, SUBSET, (_, live) => recomputedSlots(live), "recomputed"),
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
  const subsets = strategy.make().subsets(backends);
  const load = connectionsPerBackend(backends, subsets);
  const removed = backends.filter((_, i) => i !== Math.floor(SEED * 7919) % BACKENDS);
  const added = [...backends, ...names(1, "backend-", BACKENDS)];
  const from = (fleet: string[]) => {
    const subsetter = strategy.make();
    subsetter.subsets(backends);
    return subsetter.subsets(fleet);
  };
  return {
    name: strategy.name,
    file: strategy.file,
    load,
    loadStats: stats(load),
    death: queryOfDeath(backends, subsets),
    churnRemove: churn(subsets, from(removed)),
    churnAdd: churn(subsets, from(added)),
  };
});
const yMax = Math.max(...results.filter((r) => r.name !== "full mesh").map((r) => r.loadStats.max));
const charts = results
  .filter((result) => result.name !== "full mesh" && result.file !== "slot-naive")
  .map((result) => ({
    name: result.name,
    path: barChart(
      `${result.name}: clients per backend (${CLIENTS} clients, ${BACKENDS} backends, subset ${SUBSET})`,
      [...result.load].sort((a, b) => a - b),
      yMax,
      `connections-${result.file}.svg`,
    ),
  }));

// An autoscaling sequence: up 10 % one backend at a time, down 20 % one at a time, up 10 % again, then
// a step of 10 at once each way. A backend that leaves is a random one: backends fail anywhere, and
// scale-in does not always pick the newest.
const STEP = Math.max(1, Math.round(BACKENDS / 10));
const sequence = (() => {
  const random = seededRandom(SEED * 31 + 7);
  let next = BACKENDS;
  let live = [...backends];
  const fleets = [live];
  const add = (n: number) => {
    live = [...live, ...names(n, "backend-", next)];
    next += n;
    fleets.push(live);
  };
  const remove = (n: number) => {
    for (let i = 0; i < n; i++) {
      const victim = Math.floor(random() * live.length);
      live = live.filter((_, j) => j !== victim);
    }
    fleets.push(live);
  };
  for (let i = 0; i < STEP; i++) add(1);
  for (let i = 0; i < 2 * STEP; i++) remove(1);
  for (let i = 0; i < STEP; i++) add(1);
  add(10);
  remove(10);
  return fleets;
})();
const resizing = strategies.map((strategy) => {
  const scores = replay(strategy.make(), strategy.size, sequence);
  const total = (pick: (score: ResizeScore) => number) => scores.reduce((sum, score) => sum + pick(score), 0);
  return {
    name: strategy.name,
    scores,
    churn: total((score) => score.churn),
    minimum: total((score) => score.minimum),
    worstRatio: Math.max(...scores.map(churnRatio)),
    worstBalance: Math.max(...scores.map((score) => (score.mean > 0 ? score.max / score.mean : 1))),
    balanced: scores.filter((score) => score.balanced).length,
  };
});
const palette = ["#999999", "#cc6677", "#ddaa33", "#4477aa", "#117733"];
const shortName = (name: string) => name.replace(", slots recomputed (naive)", ", naive");
const colorOf = (name: string) =>
  palette[
    Math.max(
      0,
      strategies.findIndex((strategy) => shortName(strategy.name) === name),
    )
  ]!;
const lineChart = (
  title: string,
  series: Array<{ name: string; values: number[] }>,
  axis: { log: boolean; min?: number; max: number; ticks: number[]; label: string },
  file: string,
) => {
  const width = 720;
  const height = 300;
  const left = 52;
  const top = 30;
  const plotWidth = width - left - 190;
  const plotHeight = height - top - 40;
  const low = axis.min ?? 0;
  const scale = (v: number) =>
    axis.log ? Math.log10(1 + v) / Math.log10(1 + axis.max) : (v - low) / (axis.max - low);
  const y = (v: number) => top + plotHeight - Math.max(0, Math.min(1, scale(v))) * plotHeight;
  const points = Math.max(...series.map((line) => line.values.length));
  const x = (i: number) => left + (points <= 1 ? 0 : (i / (points - 1)) * plotWidth);
  const grid = axis.ticks
    .map(
      (tick) =>
        `<line x1="${left}" x2="${left + plotWidth}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#ddd"/><text x="${left - 4}" y="${(y(tick) + 4).toFixed(1)}" font-size="10" text-anchor="end">${tick}</text>`,
    )
    .join("");
  const lines = series
    .map((line, i) => {
      const color = colorOf(line.name);
      const dash = line.name.endsWith("naive") ? ' stroke-dasharray="5 3"' : "";
      const path = line.values
        .map((v, j) => `${j === 0 ? "M" : "L"}${x(j).toFixed(1)},${y(v).toFixed(1)}`)
        .join("");
      const legendY = top + 14 + i * 16;
      return `<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"${dash}/><line x1="${left + plotWidth + 12}" x2="${left + plotWidth + 30}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${color}" stroke-width="2"${dash}/><text x="${left + plotWidth + 34}" y="${legendY}" font-size="10">${line.name}</text>`;
    })
    .join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img" aria-labelledby="title">
<title id="title">${title}</title>
<rect width="100%" height="100%" fill="white"/>
<text x="${left + plotWidth / 2}" y="18" font-size="13" text-anchor="middle">${title}</text>
${grid}${lines}
<text x="${left + plotWidth / 2}" y="${height - 8}" font-size="11" text-anchor="middle">resize event</text>
<text x="12" y="${top + plotHeight / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${top + plotHeight / 2})">${axis.label}</text>
</svg>
`;
  writeFileSync(fromRoot(`docs/mesh/${file}`), svg);
  return `mesh/${file}`;
};
const churnChart = lineChart(
  `connections opened per resize event (${CLIENTS} clients, subset ${SUBSET})`,
  resizing.map((r) => ({
    name: shortName(r.name),
    values: r.scores.map((s) => s.churn),
  })),
  {
    log: true,
    max: Math.max(...resizing.flatMap((r) => r.scores.map((s) => s.churn))),
    ticks: [0, 1, 10, 100, 1000, 10000, 100000].filter(
      (t) => t <= Math.max(...resizing.flatMap((r) => r.scores.map((s) => s.churn))),
    ),
    label: "connections (log scale)",
  },
  "churn-per-event.svg",
);
const balanceChart = lineChart(
  "busiest backend / mean connections, per resize event",
  resizing
    .filter((r) => r.name !== "full mesh")
    .map((r) => ({
      name: shortName(r.name),
      values: r.scores.map((s) => s.max / s.mean),
    })),
  { log: false, min: 0.9, max: 2.5, ticks: [1, 1.1, 1.5, 2, 2.5], label: "max / mean" },
  "balance-per-event.svg",
);
const slot = resizing.find((r) => r.name === "slot subsetting")!;
const slotResult = results.find((r) => r.name === "slot subsetting")!;

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
change the parameters on the command line. The code is in \`packages/core/src/mesh/\`; the lookup service uses the
same functions (\`GET /mesh/subsets/{clientId}?size=k\` answers slot subsetting by default,
\`&algorithm=deterministic|random\` the others; rendezvous hashing places new sessions).

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
clients change subsets. Slot subsetting changes one connection of the removed backend's clients only (and,
when the removed backend was not the newest, one of the newest backend's clients, which give their
connection back), and on an addition only the connections the new backend takes.

## Churn and balance while autoscaling

${BACKENDS} → ${BACKENDS + STEP} → ${BACKENDS - STEP} → ${BACKENDS} backends one at a time, then ${BACKENDS + 10} and back to ${BACKENDS} ten at a time
(${sequence.length - 1} resize events; each backend that leaves is a random one). "Minimum" is the least any
algorithm must open: each client must replace the connections it lost (up to its subset size), and each
new backend must take its fair share ⌊connections / backends⌋. Balanced: the busiest backend serves at most
max(1.1 × mean, ⌈mean⌉) connections.

${table(
  [
    "strategy",
    "connections opened",
    "minimum",
    "opened / minimum",
    "worst event: opened / minimum",
    "worst max/mean",
    "events balanced",
  ],
  resizing.map((r) => [
    r.name,
    r.churn,
    r.minimum,
    fixed(r.churn / r.minimum),
    Number.isFinite(r.worstRatio) ? fixed(r.worstRatio) : "∞",
    fixed(r.worstBalance, 3),
    `${r.balanced}/${r.scores.length}`,
  ]),
)}

![connections opened per event](${churnChart})
![max/mean per event](${balanceChart})

Random subsetting as shipped shuffles the whole list per client, so any change reshuffles every subset
(ranking backends by a per-client hash would move little, but stays as unbalanced). Deterministic
subsetting is balanced only when the counts divide evenly, and reshuffles on every change.
A full mesh opens one connection per client for each backend added and none for one removed: it moves
little because every client already talks to everyone (${CLIENTS * BACKENDS} connections against ${CLIENTS * SUBSET}).
Slot subsetting opened ${slot.churn} connections against a minimum of ${slot.minimum} (${fixed(slot.churn / slot.minimum)}×; worst event
${fixed(slot.worstRatio)}×) and was balanced after ${slot.balanced} of ${slot.scores.length} events (worst max/mean ${fixed(slot.worstBalance, 3)}).
Recomputing its slots from scratch (sorted by name) keeps the balance but loses the low churn: slots are
the state that makes it work. Its query-of-death blast radius, from the table above:
${percent(slotResult.death.clientsHit)} of clients lose a backend and ${percent(slotResult.death.clientsDown)} lose all of them on average (worst case ${percent(slotResult.death.worstClientsDown)}),
about what random subsets give, because each new slot takes its clients by a hash rather than in
blocks.

### How slot subsetting works

The lookup service gives each live server a slot, and the slots in use are always 0..n-1: a server that
leaves opens a hole that the server of the highest slot fills, and a server that joins takes the next
slot (\`GET /servers\` answers the slots; the map is kept in DynamoDB by conditional writes). Over those
slots a plan, the same for every client, says which slots client i of M uses: slot n joins by taking
⌊M·k/(n+1)⌋ connections, one at a time from the slot with the most (the newest among equals), each from a
different client. So every backend serves ⌊M·k/n⌋ or ⌈M·k/n⌉ connections; adding a backend or removing
the newest moves exactly the minimum; removing another moves its own connections and the newest
backend's (which holds the fewest), at most twice the minimum. Each client computes its subset alone
from the slotted list (\`slotSubset\` in \`packages/core/src/mesh/balanced.ts\`). The idea of dense, stable backend
indices comes from Google's "Reinventing Backend Subsetting at Google" (ACM Queue, 2022).

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
      autoscaling: resizing.map(({ scores, ...rest }) => ({ ...rest, perEvent: scores })),
      hashing,
    },
    null,
    2,
  )}\n`,
);
console.log(
  `wrote docs/mesh.md, ${charts.map((chart) => chart.path).join(", ")}, docs/${churnChart}, docs/${balanceChart} and docs/mesh/report.json`,
);
for (const r of resizing)
  console.log(
    `  ${r.name} over ${r.scores.length} resizes: opened ${r.churn} (minimum ${r.minimum}), worst event ${fixed(r.worstRatio)}× the minimum, worst max/mean ${fixed(r.worstBalance, 3)}`,
  );
for (const result of results)
  console.log(
    `  ${result.name}: connections per backend min ${result.loadStats.min}, max ${result.loadStats.max}, std dev ${fixed(result.loadStats.stddev)}`,
  );
