// The demo stack's console panels (see plugin.ts): drawn by the local cloud's console page, which
// passes each panel this plug-in's state and its drawing helpers.

/** A ballot "000000000000007:3f2a9c1e" (counter:proposer) shown as "7:3f2a9c1e". */
const ballot = (html) => (value) => (value ? html(value.replace(/^0+(?=\d)/, "")) : "—");

export function render(panel, state, helpers) {
  const { html, json, text, table, keyLinks, faultCell, seconds, now } = helpers;
  const b = ballot(html);
  function paxos(state) {
    const { key, keys, acceptors } = state.paxos;
    const rows = acceptors.map(
      (a) =>
        `<tr data-replica="${html(a.replica)}"><td>${html(a.replica)}</td><td>${faultCell(a.fault)}</td>` +
        `<td class="mono">${b(a.promised)}</td><td class="mono">${b(a.acceptedBallot)}</td>` +
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
    return (
      pipeline +
      table(["replica", "state", "version", "lag", "value"], rows) +
      `<p class="muted">quarantined changes: ${json(r.quarantined)} · queue depths: the Queues panel</p>` +
      keyLinks(r.keys, "kv")
    );
  }

  function leases(state) {
    const { servers, unassigned } = state.leases;
    if (!servers.length)
      return '<p class="muted">No server has registered (POST /servers/{id}/heartbeat).</p>';
    const rows = servers.map((server) => {
      const left = server.expiresAt - now;
      const sessions = server.sessions
        .map(
          (s) =>
            `<span class="mono">${html(s.sessionId)}</span> #${s.fencingToken} ${seconds(s.leaseExpiresAt - now)}` +
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
      ? `<p>client ${m.clientId} of ${m.clients}, subset of ${m.size}: <b class="mono">${m.backends.map(html).join(", ")}</b></p><p class="muted">slot subsetting over the live servers (GET /mesh/subsets/{clientId})</p>`
      : '<p class="muted">No live server (or the client index is not below the client count).</p>';
  }

  const draw = { paxos, replication, leases, mesh }[panel];
  return draw ? draw(state) : "";
}
