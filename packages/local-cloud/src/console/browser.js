// The console page: polls /_console/api/state once a second and redraws each panel: the generic ones
// (functions, requests, tables, queues) and each plug-in's (its browser module draws them). Plain DOM,
// no build.
const $ = (selector) => document.querySelector(selector);

const html = (text) =>
  String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
const json = (value) => (value === null || value === undefined ? "—" : html(JSON.stringify(value)));
const text = (value) => (value === null || value === undefined ? "—" : html(value));
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const time = (at) => new Date(at).toLocaleTimeString();
const faultCell = (fault) =>
  fault === "none" ? '<span class="ok">up</span>' : `<span class="down">down (${fault})</span>`;
const table = (head, rows) =>
  `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
/** Links that set a page input (a key to watch, the table or queue to look into). */
const keyLinks = (keys, input) =>
  keys.length
    ? `<div class="keys muted">${keys.length} key${keys.length === 1 ? "" : "s"}: ${keys
        .map((key) => `<a data-input="${input}" data-key="${html(key)}">${html(key)}</a>`)
        .join("")}</div>`
    : "";
const pick = (input, key, label = key) =>
  `<a data-input="${input}" data-key="${html(key)}">${html(label)}</a>`;

// What the page looks at lives in the address (?table=...&queue=... and the plug-ins' inputs), so a
// reload or a link keeps it.
const params = new URLSearchParams(location.search);
const values = { table: params.get("table") ?? "", queue: params.get("queue") ?? "" };
const inputs = {};

function setValue(name, value) {
  values[name] = value;
  if (inputs[name]) inputs[name].value = value;
  params.set(name, value);
  history.replaceState(null, "", `?${params}`);
  refresh();
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
    const logs = fn.logs.length
      ? `<details data-logs="${html(fn.id)}"${open.has(fn.id) ? " open" : ""}><summary>${fn.logs.length} log lines</summary><pre class="logs">${fn.logs
          .map((entry) => `${time(entry.at)} ${html(entry.line)}`)
          .join("\n")}</pre></details>`
      : '<span class="muted">no log lines</span>';
    return (
      `<tr data-function="${html(fn.id)}"><td>${html(fn.id)}</td><td>${faultCell(fn.fault)}</td>` +
      `<td>${fn.busy}/${fn.environments}</td><td class="mono">${last || "—"}</td>` +
      `<td><select data-fault="${html(fn.id)}" aria-label="fault of ${html(fn.id)}">${options}</select></td><td>${logs}</td></tr>`
    );
  });
  return table(
    ["function", "state", "busy/envs", "last invocations (ms; red failed)", "fault", "logs"],
    rows,
  );
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

function tables(state) {
  const { names, items } = state.tables;
  if (!names.length) return '<p class="muted">No table.</p>';
  const list = `<p>${names.map((t) => pick("table", t.id)).join(" · ")}</p>`;
  if (!items) return `${list}<p class="muted">Pick a table to see its items.</p>`;
  const rows = items.items.map(
    (item) => `<tr><td class="value mono" title="${json(item)}">${json(item)}</td></tr>`,
  );
  return (
    list +
    `<p><b>${html(items.table)}</b>: ${items.items.length}${items.more ? "+" : ""} item${items.items.length === 1 ? "" : "s"}</p>` +
    `<div class="scroll" id="table-items">${table(["item"], rows)}</div>`
  );
}

function queues(state) {
  const { depths, messages } = state.queues;
  if (!depths.length) return '<p class="muted">No queue.</p>';
  const rows = depths.map(
    (q) =>
      `<tr data-queue="${html(q.queue)}"><td>${pick("queue", q.queue)}</td><td>${q.visible}</td><td>${q.inFlight}</td><td>${q.delayed}</td></tr>`,
  );
  const peek = messages
    ? `<p><b>${html(messages.queue)}</b>: ${messages.total ?? 0} message${messages.total === 1 ? "" : "s"} (a peek: nothing is received)</p><div class="scroll" id="queue-messages">${table(
        ["state", "message id", "body"],
        messages.messages.map(
          (m) =>
            `<tr><td>${html(m.state)}</td><td class="mono">${html(m.id)}</td><td class="value mono" title="${html(m.body)}">${html(m.body)}</td></tr>`,
        ),
      )}</div>`
    : '<p class="muted">Pick a queue to peek at its messages.</p>';
  return table(["queue", "waiting", "in flight", "delayed"], rows) + peek;
}

const panels = { functions: (s) => functions(s), requests, tables, queues };
const helpers = { html, json, text, table, keyLinks, faultCell, seconds, time, pick };
/** Plug-in panels: panel id → [plug-in id, its render]. */
const pluginPanels = {};
let focused = null;
const open = new Set();

async function loadPlugins() {
  const { plugins } = await (await fetch("/_console/api/plugins")).json();
  for (const plugin of plugins) {
    const module = await import(`/_console/plugins/${encodeURIComponent(plugin.id)}.js`);
    for (const input of plugin.inputs) {
      values[input.name] = params.get(input.name) ?? input.value ?? "";
      const label = document.createElement("label");
      label.textContent = `${input.label} `;
      const field = document.createElement("input");
      field.id = `input-${input.name}`;
      field.value = values[input.name];
      if (input.placeholder) field.placeholder = input.placeholder;
      if (input.small) field.className = "small";
      field.addEventListener("change", () => setValue(input.name, field.value));
      label.append(field);
      $("#inputs").append(label);
      inputs[input.name] = field;
    }
    for (const panel of plugin.panels) {
      const section = document.createElement("section");
      section.id = panel.id;
      section.innerHTML = `<h2>${html(panel.title)}</h2><div class="body"></div>`;
      $("main").insertBefore(section, $("#functions"));
      pluginPanels[panel.id] = [plugin.id, module.render];
    }
  }
}

async function refresh() {
  const query = new URLSearchParams(values);
  try {
    const response = await fetch(`/_console/api/state?${query}`);
    const state = await response.json();
    if (!response.ok) throw new Error(state.error?.message ?? response.status);
    const draws = [
      ...Object.entries(panels).map(([id, draw]) => [id, () => draw(state)]),
      ...Object.entries(pluginPanels).map(([id, [plugin, render]]) => [
        id,
        () => render(id, state.plugins[plugin], { ...helpers, now: state.now }),
      ]),
    ];
    for (const [id, draw] of draws) {
      // Do not redraw a panel while one of its controls is in use.
      if (focused && $(`#${id}`).contains(focused)) continue;
      $(`#${id} .body`).innerHTML = draw();
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
document.addEventListener(
  "toggle",
  (event) => {
    const id = event.target.dataset?.logs;
    if (id) event.target.open ? open.add(id) : open.delete(id);
  },
  true,
);
document.addEventListener("click", (event) => {
  const { input, key } = event.target.dataset ?? {};
  if (input) setValue(input, key);
});

await loadPlugins().catch((error) => {
  $("#status").textContent = `plug-ins failed to load: ${error.message}`;
});
refresh();
setInterval(refresh, 1000);
