// Standfast console: login, live status (server-sent events), tree, table, timeline, chart.
import { $, el } from "./dom.js";
import { api, login, logout, onUnauthorized, setToken } from "./api.js";
import { applyI18n, currentLang, loadLang, pickLang, setLang, t } from "./i18n.js";
import { icon, stateIcon } from "./icons.js";
import { initAlerts, openAlerts } from "./alerts.js";
import { initWizards, openWizard } from "./wizards.js";
import { CLUSTER_ITEMS, HIERARCHY_ITEMS, MODE_NEEDS, SERVER_ITEMS, inStandby, initMaintenance } from "./maintenance.js";

export const state = {
  me: null, // {user, role, server}
  status: null,
  view: null,
  events: new Map(), // key -> event (every server's)
  actions: new Map(),
  source: null,
  peerTimer: null,
};

const ROLE_RANK = { guest: 0, operator: 1, administrator: 2 };
const NEEDS = {
  create: "administrator", delete: "administrator", extend: "administrator",
  unextend: "administrator", dep_create: "administrator", dep_delete: "administrator",
  in_service: "operator", out_of_service: "operator", properties: "guest", ...MODE_NEEDS,
};
export function can(action) {
  return !!state.me && ROLE_RANK[state.me.role] >= ROLE_RANK[NEEDS[action]];
}

// -- the cluster model the GUI works from ----------------------------------------------

export function model() {
  const view = state.view || { resources: [], servers: [], alive: [], local: "" };
  const byKey = new Map();
  const equivs = new Map();
  for (const r of view.resources) {
    byKey.set(`${r.server}\u0000${r.tag}`, r);
    if (!equivs.has(r.equiv)) equivs.set(r.equiv, { equiv: r.equiv, copies: [], children: new Set(), parents: new Set() });
    equivs.get(r.equiv).copies.push(r);
  }
  for (const r of view.resources) {
    const eq = equivs.get(r.equiv);
    for (const c of r.children) {
      const child = byKey.get(`${r.server}\u0000${c}`);
      if (child) {
        eq.children.add(child.equiv);
        equivs.get(child.equiv).parents.add(r.equiv);
      }
    }
  }
  for (const eq of equivs.values()) {
    const local = eq.copies.find((c) => c.server === view.local);
    const first = local || eq.copies[0];
    eq.tag = first.tag;
    eq.kit = first.kit;
    eq.id = first.id;
    eq.copies.sort((a, b) => a.priority - b.priority);
    eq.holder = eq.copies.find((c) => c.state === "ISP" || c.state === "ISU");
  }
  const roots = [...equivs.values()].filter((e) => e.parents.size === 0).sort((a, b) => a.tag.localeCompare(b.tag));
  const order = [];
  const walk = (eq, depth, seen) => {
    if (seen.has(eq.equiv)) return;
    order.push({ eq, depth });
    const kids = [...eq.children].map((x) => equivs.get(x)).sort((a, b) => a.tag.localeCompare(b.tag));
    for (const k of kids) walk(k, depth + 1, new Set([...seen, eq.equiv]));
  };
  for (const r of roots) walk(r, 0, new Set());
  return { view, byKey, equivs, roots, order, servers: view.servers, alive: new Set(view.alive) };
}

export function resourcesOn(server) {
  return (state.view ? state.view.resources : []).filter((r) => r.server === server);
}

// -- messages --------------------------------------------------------------------------

let messageTimer = null;
export function message(text, severity = "info", sticky = false) {
  const bar = $("#message-bar");
  bar.hidden = false;
  bar.dataset.severity = severity;
  $("#message-text").textContent = text;
  $("#message-icon").replaceChildren(icon(severity === "error" ? "error" : severity === "success" ? "ok" : "info"));
  clearTimeout(messageTimer);
  if (!sticky) messageTimer = setTimeout(() => (bar.hidden = true), severity === "error" ? 15000 : 6000);
}

export function errorText(err) {
  if (!err) return t("wizard.failed");
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

// -- login -----------------------------------------------------------------------------

async function showLogin(note) {
  stopLive();
  state.me = null;
  $("#app-view").hidden = true;
  $("#login-view").hidden = false;
  const err = $("#login-error");
  err.hidden = !note;
  if (note) err.textContent = note;
  $("#login-password").value = "";
  $("#login-user").focus();
}

async function showApp(me) {
  state.me = me;
  $("#login-view").hidden = true;
  $("#app-view").hidden = false;
  $("#user-name").textContent = me.user;
  const chip = $("#user-role");
  chip.dataset.role = me.role;
  chip.textContent = t(`role.${me.role}`);
  buildMenus();
  startLive();
}

async function onLogin(ev) {
  ev.preventDefault();
  const btn = $("#login-submit");
  btn.disabled = true;
  const r = await login($("#login-user").value.trim(), $("#login-password").value);
  btn.disabled = false;
  if (!r.ok) {
    const err = $("#login-error");
    err.hidden = false;
    err.replaceChildren(el("span", { class: "code", text: r.error ? r.error.code : "" }), r.error ? r.error.message : String(r.status));
    return;
  }
  await showApp({ user: r.data.user, role: r.data.role, server: r.data.server });
  message(t("msg.logged_in", { user: r.data.user, role: t(`role.${r.data.role}`) }), "success");
}

// -- live status -----------------------------------------------------------------------

function eventKey(e) {
  return `${e.server}|${e.ts}|${e.kind}|${e.tag}`;
}

function addEvents(list) {
  for (const e of list) state.events.set(eventKey(e), e);
  if (state.events.size > 600) {
    const keep = [...state.events.entries()].sort((a, b) => b[1].ts - a[1].ts).slice(0, 500);
    state.events = new Map(keep);
  }
}

function setLive(mode) {
  const box = $("#live-indicator");
  box.dataset.state = mode;
  $("#live-text").textContent = t(`live.${mode}`);
}

function startLive() {
  stopLive();
  setLive("connecting");
  const src = new EventSource("/api/v1/stream");
  state.source = src;
  src.addEventListener("open", () => setLive("live"));
  src.addEventListener("error", () => setLive("lost"));
  src.addEventListener("status", (ev) => {
    const data = JSON.parse(ev.data);
    const first = !state.view;
    state.status = data.status;
    state.view = data.view;
    setLive("live");
    render();
    if (first) pollPeers(); // the peers' events at once, not at the next poll
  });
  src.addEventListener("events", (ev) => {
    addEvents(JSON.parse(ev.data));
    renderTimeline();
  });
  src.addEventListener("actions", (ev) => {
    for (const a of JSON.parse(ev.data)) state.actions.set(`${a.ts}|${a.user}|${a.path}`, a);
    renderTimeline();
  });
  src.addEventListener("expired", () => {
    stopLive();
    setToken("");
    showLogin(t("msg.session_expired"));
  });
  pollPeers();
  state.peerTimer = setInterval(pollPeers, 3000);
}

function stopLive() {
  if (state.source) state.source.close();
  state.source = null;
  clearInterval(state.peerTimer);
  state.peerTimer = null;
}

// Events happen where they happen: fetch the other live servers' events too.
async function pollPeers() {
  if (!state.view) return;
  const peers = state.view.alive.filter((s) => s !== state.view.local);
  await Promise.all(
    peers.map(async (s) => {
      const r = await api("GET", "/v1/events", undefined, s);
      if (r.ok && Array.isArray(r.data)) {
        addEvents(r.data.map((e) => ({ ...e, server: s })));
      }
    }),
  );
  renderTimeline();
}

// -- rendering -------------------------------------------------------------------------

// quorum etcd: this server's lease (whole seconds it lives in etcd at least) and who
// holds each hierarchy's key.
function renderEtcd(etcd) {
  const e = $("#etcd-badge");
  if (!etcd) {
    e.hidden = true;
    return;
  }
  e.hidden = false;
  e.className = `badge ${etcd.lease_valid ? "ok" : "bad"}`;
  const holders = Object.entries(etcd.holders || {})
    .map(([tag, server]) => t("top.etcd_holder", { tag, server }))
    .join(", ");
  const key = etcd.lease_valid ? "top.etcd_ok" : "top.etcd_lost";
  e.textContent = t(key, { left: etcd.lease_left }) + (holders ? ` · ${holders}` : "");
  e.title = `${etcd.endpoint} (${etcd.detail})`;
  e.dataset.holders = JSON.stringify(etcd.holders || {});
}

function render() {
  if (!state.status) return;
  const cluster = state.status.cluster;
  $("#cluster-name").textContent = cluster ? cluster.name : t("top.no_cluster");
  $("#served-by").textContent = t("top.served_by", { server: state.status.server });
  const q = $("#quorum-badge");
  if (cluster) {
    const qs = cluster.quorum;
    q.hidden = false;
    q.className = `badge ${qs.has_quorum ? "ok" : "bad"}`;
    // needed 0: quorum is not used (mode none, or majority with two servers).
    const key = !qs.needed ? "top.quorum_unused" : qs.has_quorum ? "top.quorum_ok" : "top.quorum_lost";
    q.textContent = t(key, { votes: qs.votes, needed: qs.needed, mode: qs.mode });
    q.dataset.quorum = String(qs.has_quorum);
  } else {
    q.hidden = true;
  }
  renderEtcd(cluster ? cluster.quorum.etcd : undefined);
  renderMaintenance();
  renderServers();
  renderTree();
  renderTable();
  renderLegend();
  renderTimeline();
}

// Maintenance mode (docs/maintenance.md): a badge while the cluster or a hierarchy is in it.
function renderMaintenance() {
  const b = $("#maintenance-badge");
  const mm = state.status.maintenance || { cluster: false, hierarchies: [] };
  const on = mm.cluster || mm.hierarchies.length > 0;
  b.hidden = !on;
  b.dataset.maintenance = mm.cluster ? "cluster" : on ? "hierarchy" : "off";
  b.textContent = mm.cluster ? t("top.maintenance_cluster") : on ? t("top.maintenance_hierarchies", { tags: mm.hierarchies.join(", ") }) : "";
}

function renderServers() {
  const m = model();
  const cluster = state.status.cluster;
  const strip = $("#servers-strip");
  strip.replaceChildren(
    ...m.servers.map((name) => {
      const info = cluster ? cluster.servers[name] || {} : { alive: true, local: true, paths: {} };
      const alive = m.alive.has(name);
      const paths = Object.entries(info.paths || {}).map(([net, st]) => el("span", { class: `path ${st}`, title: `${net}: ${st}`, text: `${net} ${st}` }));
      return el(
        "div",
        { class: `server-card${alive ? "" : " dead"}`, "data-server": name, "data-alive": String(alive), "data-standby": String(!!info.standby), oncontextmenu: (ev) => serverMenu(ev, name) },
        el("div", { class: "name" }, el("span", { class: "dot" }), name, info.local ? el("span", { class: "local", text: t("table.local") }) : null),
        el("div", { class: "muted", text: alive ? t("table.alive") : t("table.dead") }),
        info.failover_blocked ? el("div", { class: "muted", text: t("table.blocked") }) : null,
        info.standby ? el("div", { class: "maint-chip standby", text: t("table.standby") }) : null,
        paths.length ? el("div", { class: "paths" }, paths) : null,
      );
    }),
  );
}

function summaryState(eq) {
  const order = ["ISP", "ISU", "OSF", "OSU", "UNKNOWN"];
  for (const s of order) if (eq.copies.some((c) => c.state === s)) return s;
  return "UNKNOWN";
}

function renderTree() {
  const m = model();
  const tree = $("#tree");
  $("#tree-empty").hidden = m.roots.length > 0;
  const node = (eq, seen) => {
    const st = summaryState(eq);
    const row = el(
      "div",
      { class: "tree-node", role: "treeitem", tabindex: "0", "data-tag": eq.tag, "data-equiv": eq.equiv, "data-state": st, title: t(`state.${st}`) },
      stateIcon(st),
      el("span", { class: "label", text: eq.tag }),
      el("span", { class: "kit", text: eq.kit }),
    );
    row.addEventListener("contextmenu", (ev) => {
      ev.preventDefault();
      const server = eq.holder ? eq.holder.server : (eq.copies.find((c) => c.server === m.view.local) || eq.copies[0]).server;
      const copy = eq.copies.find((c) => c.server === server);
      showContextMenu(ev.clientX, ev.clientY, { server, tag: copy.tag, equiv: eq.equiv, global: true });
    });
    const kids = [...eq.children].filter((x) => !seen.has(x)).map((x) => m.equivs.get(x));
    return el("li", {}, row, kids.length ? el("ul", { role: "group" }, kids.map((k) => node(k, new Set([...seen, eq.equiv])))) : null);
  };
  tree.replaceChildren(...m.roots.map((r) => node(r, new Set())));
}

function renderTable() {
  const m = model();
  const busy = new Set(state.status.busy || []);
  const table = $("#status-table");
  const head = el(
    "tr",
    {},
    el("th", { text: t("table.resource") }),
    m.servers.map((s) =>
      el(
        "th",
        { "data-server": s, "data-standby": String(inStandby(s)), oncontextmenu: (ev) => serverMenu(ev, s) },
        s,
        m.alive.has(s) ? null : el("span", { class: "muted", text: ` (${t("table.dead")})` }),
        inStandby(s) ? el("span", { class: "maint-chip standby", text: t("table.standby") }) : null,
      ),
    ),
  );
  const rows = m.order.map(({ eq, depth }) =>
    el(
      "tr",
      { class: `depth-${Math.min(depth, 3)}`, "data-equiv": eq.equiv, "data-tag": eq.tag },
      el(
        "td",
        { class: "res" },
        eq.tag,
        eq.copies.some((c) => c.maintenance) ? el("span", { class: "maint-chip", "data-maintenance": "true", text: t("table.maintenance") }) : null,
        el("span", { class: "id", text: `${eq.kit} · ${eq.id}` }),
      ),
      m.servers.map((s) => {
        const c = eq.copies.find((x) => x.server === s);
        if (!c) return el("td", { class: "cell none", "data-server": s, "data-state": "", text: t("table.none") });
        const isBusy = s === m.view.local && busy.has(c.tag);
        const td = el(
          "td",
          { class: `cell${isBusy ? " busy" : ""}`, "data-server": s, "data-tag": c.tag, "data-state": c.state, title: `${t(`state.${c.state}`)}${c.reason ? ` (${c.reason})` : ""}${isBusy ? ` · ${t("table.busy")}` : ""}` },
          el("span", { class: `pill st-${c.state}` }, stateIcon(c.state), c.state, el("span", { class: "prio", text: `#${c.priority}` })),
          c.tag !== eq.tag ? el("span", { class: "muted", text: ` ${c.tag}` }) : null,
        );
        td.addEventListener("contextmenu", (ev) => {
          ev.preventDefault();
          showContextMenu(ev.clientX, ev.clientY, { server: s, tag: c.tag, equiv: eq.equiv, global: false });
        });
        return td;
      }),
    ),
  );
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
}

function renderLegend() {
  const legend = $("#legend");
  if (legend.childElementCount) return;
  legend.replaceChildren(...["ISP", "ISU", "OSU", "OSF"].map((s) => el("span", { class: `st-${s}` }, stateIcon(s), `${s} — ${t(`state.${s}`)}`)));
}

function fmtTime(ts) {
  const d = new Date(ts * 1000);
  return d.toLocaleTimeString(currentLang() === "ja" ? "ja-JP" : "en-GB", { hour12: false });
}

function eventDuration(e) {
  const d = e.data || {};
  const v = d.outage_seconds ?? d.detect_to_in_service_seconds ?? d.restore_seconds;
  return typeof v === "number" ? v : null;
}

// The engine's event details are English text; the common ones are shown in the GUI's
// language (anything else as written). Each pattern's groups become the key's params.
const DETAILS = [
  [/^every comm path is dead$/, "detail.paths_dead", []],
  [/^regained$/, "detail.quorum_regained", []],
  [/^lost \((\d+) of (\d+) votes\)$/, "detail.quorum_lost", ["votes", "needed"]],
  [/^quorum lost$/, "detail.released_quorum", []],
  [/^adopted version (\d+)$/, "detail.adopted", ["version"]],
  [/^released to (\S+)$/, "detail.released_to", ["server"]],
  [/^to (\S+) priority (\d+)$/, "detail.extended_to", ["server", "priority"]],
  [/^from (\S+)$/, "detail.unextended_from", ["server"]],
  [/^depends on (\S+)$/, "detail.depends_on", ["child"]],
  [/^no longer depends on (\S+)$/, "detail.no_longer_depends", ["child"]],
  [/^restored a backup as version (\d+)$/, "detail.restored_backup", ["version"]],
  [/^fencing$/, "detail.fencing", []],
  [/^on$/, "detail.mode_on", []], // maintenance, standby
  [/^off$/, "detail.mode_off", []],
];

function localDetail(detail) {
  for (const [re, key, names] of DETAILS) {
    const m = re.exec(detail || "");
    if (m) return t(key, Object.fromEntries(names.map((n, i) => [n, m[i + 1]])));
  }
  return detail || "";
}

function renderTimeline() {
  const items = [];
  for (const e of state.events.values()) {
    if (e.kind === "state" || e.kind === "config") continue;
    items.push({ ts: e.ts, kind: e.kind, server: e.server, text: `${e.tag} ${localDetail(e.detail)}`.trim(), dur: eventDuration(e) });
  }
  for (const a of state.actions.values()) {
    const op = a.path.replace(/^\/v1\//, "");
    items.push({
      ts: a.ts, kind: "action", server: a.server,
      text: `${a.method} ${op} ${a.target} ${t("event.by", { user: a.user })}`, dur: a.seconds, code: a.code,
    });
  }
  items.sort((a, b) => b.ts - a.ts);
  const list = $("#timeline");
  $("#timeline-empty").hidden = items.length > 0;
  list.replaceChildren(
    ...items.slice(0, 120).map((i) =>
      el(
        "li",
        { class: `tl-item k-${i.kind}`, "data-kind": i.kind, "data-server": i.server },
        el("span", { class: "tl-time", text: fmtTime(i.ts) }),
        el("span", { class: "tl-kind", text: t(`event.${i.kind}`) }),
        el("span", { text: `${i.text} · ${t("event.on", { server: i.server })}` }),
        i.dur !== null && i.dur !== undefined ? el("span", { class: "tl-dur", text: `${Number(i.dur).toFixed(2)} s` }) : null,
        i.code ? el("span", { class: "tl-code", text: i.code }) : null,
      ),
    ),
  );
  renderChart();
}

const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}, text) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};

function renderChart() {
  const points = [...state.events.values()]
    .filter((e) => e.kind === "failover" && eventDuration(e) !== null)
    .sort((a, b) => a.ts - b.ts)
    .slice(-24);
  const box = $("#chart");
  if (!points.length) {
    box.replaceChildren(el("p", { class: "empty", text: t("chart.empty") }));
    return;
  }
  const W = 640, H = 240, L = 44, B = 34, T = 14, R = 10;
  const max = Math.max(1, ...points.map(eventDuration));
  const top = Math.ceil(max * 1.15 * 2) / 2;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("chart.title"), "data-points": String(points.length) });
  for (let i = 0; i <= 4; i++) {
    const y = T + ((H - T - B) * i) / 4;
    root.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y }));
    root.append(svg("text", { x: L - 6, y: y + 3, "text-anchor": "end" }, (top * (1 - i / 4)).toFixed(1)));
  }
  root.append(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
  root.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  root.append(svg("text", { x: 4, y: T - 3 }, t("chart.seconds")));
  const slot = (W - L - R) / points.length;
  const bw = Math.min(36, slot * 0.6);
  points.forEach((e, i) => {
    const v = eventDuration(e);
    const h = ((H - T - B) * v) / top;
    const x = L + slot * i + (slot - bw) / 2;
    const bar = svg("rect", { class: "bar", x, y: H - B - h, width: bw, height: Math.max(h, 1), rx: 3 });
    const d = e.data || {};
    const parts = typeof d.outage_seconds === "number" && typeof d.detect_to_in_service_seconds === "number"
      ? ` (${t("chart.breakdown", { detect: (d.outage_seconds - d.detect_to_in_service_seconds).toFixed(2), takeover: d.detect_to_in_service_seconds.toFixed(2) })})`
      : "";
    bar.append(svg("title", {}, `${e.tag}: ${e.detail} — ${v.toFixed(3)} s${parts}`));
    root.append(bar);
    root.append(svg("text", { class: "bar-label", x: x + bw / 2, y: H - B - h - 4, "text-anchor": "middle" }, v.toFixed(2)));
    root.append(svg("text", { x: x + bw / 2, y: H - B + 14, "text-anchor": "middle" }, fmtTime(e.ts)));
    root.append(svg("text", { x: x + bw / 2, y: H - B + 26, "text-anchor": "middle" }, (e.data && e.data.to) || e.server));
  });
  box.replaceChildren(root);
}

// -- menus -----------------------------------------------------------------------------

const MENUS = [
  { key: "menu.server", items: ["create"] },
  { key: "menu.resource", items: ["delete", "extend", "unextend", "-", "dep_create", "dep_delete", "-", "in_service", "out_of_service", "-", ...HIERARCHY_ITEMS, "-", "properties"] },
  { key: "menu.cluster", items: CLUSTER_ITEMS },
];

function buildMenus() {
  const bar = $("#menubar");
  bar.replaceChildren(
    ...MENUS.map((m) => {
      const box = el("div", { class: "menu" });
      const btn = el("button", { type: "button", "data-menu": m.key, text: t(m.key) });
      btn.addEventListener("click", (ev) => {
        ev.stopPropagation();
        const open = box.classList.contains("open");
        closeMenus();
        if (!open) box.classList.add("open");
      });
      const list = el(
        "div",
        { class: "menu-list", role: "menu" },
        m.items.map((a) =>
          a === "-"
            ? el("div", { class: "menu-sep" })
            : el("button", {
                type: "button", class: "menu-item", role: "menuitem", "data-action": a, text: t(`action.${a}`),
                disabled: !can(a),
                onclick: () => {
                  closeMenus();
                  openWizard(a, {});
                },
              }),
        ),
      );
      box.append(btn, list);
      return box;
    }),
    el("div", { class: "menu" }, el("button", {
      type: "button", "data-menu": "menu.alerts", text: t("menu.alerts"),
      onclick: (ev) => {
        ev.stopPropagation();
        closeMenus();
        openAlerts();
      },
    })),
    el("div", { class: "menu" }, el("a", { class: "menu-item", href: "/api/openapi.json", target: "_blank", rel: "noopener", text: "OpenAPI" })),
  );
}

function closeMenus() {
  for (const m of document.querySelectorAll(".menu.open")) m.classList.remove("open");
  $("#context-menu").hidden = true;
}

function showContextMenu(x, y, target) {
  closeMenus();
  const menu = $("#context-menu");
  const actions = target.kind === "server"
    ? SERVER_ITEMS
    : ["in_service", "out_of_service", "-", "extend", "unextend", "delete", "-", "dep_create", "dep_delete", "-", ...HIERARCHY_ITEMS, "-", "properties"];
  const head = target.kind === "server" ? t("ctx.server", { server: target.server }) : target.global ? t("ctx.global", { tag: target.tag }) : t("ctx.instance", { tag: target.tag, server: target.server });
  menu.replaceChildren(
    el("div", { class: "ctx-head", text: head }),
    ...actions.map((a) =>
      a === "-"
        ? el("div", { class: "menu-sep" })
        : el("button", {
            type: "button", role: "menuitem", "data-action": a, text: t(`action.${a}`), disabled: !can(a),
            onclick: () => {
              closeMenus();
              openWizard(a, { ...target, fromContext: true });
            },
          }),
    ),
  );
  menu.hidden = false;
  const r = menu.getBoundingClientRect();
  menu.style.left = `${Math.min(x, window.innerWidth - r.width - 8)}px`;
  menu.style.top = `${Math.min(y, window.innerHeight - r.height - 8)}px`;
}

// A server's own menu (its card, its column's header): standby and back.
function serverMenu(ev, server) {
  ev.preventDefault();
  showContextMenu(ev.clientX, ev.clientY, { server, kind: "server" });
}

// -- start -----------------------------------------------------------------------------

async function relabel() {
  applyI18n();
  if (state.me) {
    $("#user-role").textContent = t(`role.${state.me.role}`);
    buildMenus();
    $("#legend").replaceChildren();
    render();
  }
}

// How long the first page waits for the server to say whether a session exists.
const PROBE_MS = 10000;

async function main() {
  // The language first, but never at the cost of the login form: without its file
  // the texts fall back to English or to their keys, and a switch of language later
  // loads it again.
  try {
    await loadLang(pickLang());
  } catch (exc) {
    console.warn("language file not loaded:", exc);
  }
  applyI18n();
  for (const sel of document.querySelectorAll(".lang-select")) {
    sel.addEventListener("change", async () => {
      try {
        await setLang(sel.value);
      } catch (exc) {
        message(String(exc), "error");
        return;
      }
      await relabel();
    });
  }
  document.addEventListener("click", (ev) => {
    if (!ev.target.closest(".menu") && !ev.target.closest("#context-menu")) closeMenus();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") closeMenus();
  });
  $("#login-form").addEventListener("submit", onLogin);
  $("#logout").addEventListener("click", async () => {
    await logout();
    showLogin("");
  });
  $("#message-close").addEventListener("click", () => ($("#message-bar").hidden = true));
  onUnauthorized((err) => {
    setToken("");
    showLogin(`${err.code}: ${err.message}`);
  });
  initWizards({ state, can, message, model, resourcesOn, errorText });
  initAlerts({ state, message, errorText });
  initMaintenance({ state, resourcesOn });
  // The session probe decides between the console and the login form; when it gets
  // no answer at all (status 0: network error or PROBE_MS passed), the login form
  // shows why, and signing in tries the server again.
  const who = await api("GET", "/v1/whoami", undefined, undefined, { timeoutMs: PROBE_MS });
  if (who.ok) await showApp(who.data);
  else await showLogin(who.status === 0 ? errorText(who.error) : "");
  document.body.dataset.ready = "true";
}

main();
