// The console page: polls /_console/api/state once a second and redraws each panel. Plain DOM, no build.
const $ = (selector) => document.querySelector(selector);
const inputs = {
  paxos: $("#paxos-key"),
  kv: $("#kv-key"),
  client: $("#mesh-client"),
  size: $("#mesh-size"),
  clients: $("#mesh-clients"),
};

// The keys being watched live in the address (?paxos=...&kv=...), so a reload or a link keeps them.
const params = new URLSearchParams(location.search);
for (const [name, input] of Object.entries(inputs)) {
  if (params.has(name)) input.value = params.get(name);
  input.addEventListener("change", () => {
    params.set(name, input.value);
    history.replaceState(null, "", `?${params}`);
    refresh();
  });
}

const html = (text) =>
  String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
const json = (value) => (value === null || value === undefined ? "—" : html(JSON.stringify(value)));
const text = (value) => (value === null || value === undefined ? "—" : html(value));
/** A ballot "000000000000007:3f2a9c1e" (round:proposer) shown as "7:3f2a9c1e". */
const ballot = (value) => (value ? html(value.replace(/^0+(?=\d)/, "")) : "—");
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const time = (at) => new Date(at).toLocaleTimeString();
const faultCell = (fault) =>
  fault === "none" ? '<span class="ok">up</span>' : `<span class="down">down (${fault})</span>`;
const table = (head, rows) =>
  `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
const keyLinks = (keys, input) =>
  keys.length
    ? `<div class="keys muted">${keys.length} key${keys.length === 1 ? "" : "s"}: ${keys
        .map((key) => `<a data-input="${input}" data-key="${html(key)}">${html(key)}</a>`)
        .join("")}</div>`
    : "";

function paxos(state) {
  const { key, keys, acceptors } = state.paxos;
  const rows = acceptors.map(
    (a) =>
      `<tr data-replica="${html(a.replica)}"><td>${html(a.replica)}</td><td>${faultCell(a.fault)}</td>` +
      `<td class="mono">${ballot(a.promised)}</td><td class="mono">${ballot(a.acceptedBallot)}</td>` +
      `<td>${text(a.version)}</td><td class="value" title="${json(a.value)}">${json(a.value)}</td></tr>`,
  );
  return (
    (key ? "" : '<p class="muted">Type a Paxos key above, or pick one below.</p>') +
    table(["replica", "state", "promised", "accepted ballot", "version", "value"], rows) +
    keyLinks(keys, "paxos")
  );
}

function replication(state) {
  const r = state.replication;
  const rows = r.replicas.map(
    (replica, index) =>
      `<tr data-replica="${html(replica.replica)}"><td>${html(replica.replica)}${index === 0 ? ' <span class="muted">(primary)</span>' : ""}</td>` +
      `<td>${faultCell(replica.fault)}</td><td class="mono">${text(replica.version)}</td>` +
      `<td>${r.behind.includes(replica.replica) ? `<span class="warn">behind${replica.lagMs ? ` ${seconds(replica.lagMs)}` : ""}</span>` : r.key && replica.version ? '<span class="ok">in step</span>' : "—"}</td>` +
      `<td class="value" title="${json(replica.value)}">${json(replica.value)}</td></tr>`,
  );
  const pipeline = r.key
    ? `<p>committed <b class="mono">${text(r.primaryVersion)}</b> · outbox records ${json(r.outboxRecords)} · ` +
      `applied on ${r.replicas.length - r.behind.length} of ${r.replicas.length} · changes counted ${json(r.changes)} · ` +
      `<span id="convergence" class="${r.behind.length ? "warn" : "ok"}">${r.behind.length ? `lag: ${r.behind.join(", ")} behind` : "replicas converged"}</span></p>`
    : '<p class="muted">Type a KV key above, or pick one below.</p>';
  const queues = r.queues.map(
    (q) => `<tr><td>${html(q.queue)}</td><td>${q.visible}</td><td>${q.inFlight}</td></tr>`,
  );
  return (
    pipeline +
    table(["replica", "state", "version", "lag", "value"], rows) +
    `<p class="muted">quarantined changes: ${json(r.quarantined)}</p>` +
    table(["queue", "waiting", "in flight"], queues) +
    keyLinks(r.keys, "kv")
  );
}

function leases(state) {
  const { servers, unassigned } = state.leases;
  if (!servers.length) return '<p class="muted">No server has registered (POST /servers/{id}/heartbeat).</p>';
  const rows = servers.map((server) => {
    const left = server.expiresAt - state.now;
    const sessions = server.sessions
      .map(
        (s) =>
          `<span class="mono">${html(s.sessionId)}</span> #${s.fencingToken} ${seconds(s.leaseExpiresAt - state.now)}` +
          (s.movingTo ? ` <span class="warn">→ ${html(s.movingTo)}</span>` : ""),
      )
      .join("<br>");
    return (
      `<tr><td>${html(server.serverId)}</td><td>${server.live ? `<span class="ok">live</span> ${seconds(left)}` : '<span class="down">expired</span>'}</td>` +
      `<td>${server.sessionCount}</td><td class="mono">${sessions || "—"}</td></tr>`
    );
  });
  return (
    table(["server", "registration", "sessions", "session · fencing token · lease left"], rows) +
    `<p class="muted">sessions with no live lease: ${unassigned}</p>`
  );
}

function mesh(state) {
  const m = state.mesh;
  return m.backends.length
    ? `<p>client ${m.clientId} of ${m.clients}, subset of ${m.size}: <b class="mono">${m.backends.map(escape).join(", ")}</b></p><p class="muted">slot subsetting over the live servers (GET /mesh/subsets/{clientId})</p>`
    : '<p class="muted">No live server (or the client index is not below the client count).</p>';
}

function functions(state) {
  const rows = state.functions.map((fn) => {
    const recent = fn.recent.slice(-8).reverse();
    const last = recent
      .map(
        (r) =>
          `<span class="${r.outcome === "ok" ? "ok" : "down"}" title="${html(r.outcome)} at ${time(r.at)}">${r.ms}</span>`,
      )
      .join(" ");
    const options = ["none", "error", "timeout"]
      .map(
        (mode) =>
          `<option value="${mode}"${mode === fn.fault ? " selected" : ""}>${mode === "none" ? "up" : mode}</option>`,
      )
      .join("");
    return (
      `<tr data-function="${html(fn.id)}"><td>${html(fn.id)}</td><td>${faultCell(fn.fault)}</td>` +
      `<td>${fn.busy}/${fn.environments}</td><td class="mono">${last || "—"}</td>` +
      `<td><select data-fault="${html(fn.id)}" aria-label="fault of ${html(fn.id)}">${options}</select></td></tr>`
    );
  });
  return table(["function", "state", "busy/envs", "last invocations (ms; red failed)", "fault"], rows);
}

function requests(state) {
  if (!state.requests.length) return '<p class="muted">No request yet.</p>';
  const rows = state.requests.map(
    (r) =>
      `<tr><td>${time(r.at)}</td><td class="mono">${html(r.method)} ${html(r.path)}</td>` +
      `<td class="${r.status >= 500 ? "down" : r.status >= 400 ? "warn" : "ok"}">${r.status}${r.code ? ` ${html(r.code)}` : ""}</td><td>${r.ms} ms</td></tr>`,
  );
  return `<div class="scroll">${table(["at", "request", "status", "took"], rows)}</div>`;
}

const panels = { paxos, replication, leases, mesh, functions, requests };
let focused = null;

async function refresh() {
  const query = new URLSearchParams(Object.entries(inputs).map(([name, input]) => [name, input.value]));
  try {
    const response = await fetch(`/_console/api/state?${query}`);
    const state = await response.json();
    if (!response.ok) throw new Error(state.error?.message ?? response.status);
    for (const [id, draw] of Object.entries(panels)) {
      // Do not redraw a panel while one of its controls is in use.
      if (focused && $(`#${id}`).contains(focused)) continue;
      $(`#${id} .body`).innerHTML = draw(state);
    }
    $("#status").textContent = `updated ${time(state.now)}`;
  } catch (error) {
    $("#status").textContent = `not connected: ${error.message}`;
  }
}

document.addEventListener("focusin", (event) => {
  focused = event.target.tagName === "SELECT" ? event.target : null;
});
document.addEventListener("change", async (event) => {
  const id = event.target.dataset?.fault;
  if (!id) return;
  focused = null;
  await fetch(`/_console/api/faults/${encodeURIComponent(id)}?mode=${event.target.value}`, { method: "PUT" });
  refresh();
});
document.addEventListener("click", (event) => {
  const { input, key } = event.target.dataset ?? {};
  if (!input) return;
  inputs[input].value = key;
  inputs[input].dispatchEvent(new Event("change"));
});

refresh();
setInterval(refresh, 1000);
