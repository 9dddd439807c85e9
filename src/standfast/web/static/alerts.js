// The alerts page (docs/alerts.md): who is told what happened. Every role sees the
// recipients (the server masks their secrets); an administrator adds and removes them
// and sends a test alert, whose result is shown per recipient.
import { $, el } from "./dom.js";
import { api } from "./api.js";
import { t } from "./i18n.js";

const KINDS = [
  "failover_begun", "failover", "resource_failed", "local_recovery", "server_failed",
  "server_left", "server_joined", "comm_path_down", "comm_path_up", "quorum_lost", "quorum_regained",
  "fence", "fence_result", "nas_hung", "nas_back", "config_conflict",
];
const FIELDS = {
  exec: [["path", "text"], ["args", "lines"]],
  webhook: [["url", "text"], ["secret", "password"], ["ca_pem", "pem"]],
  email: [["to", "text"], ["smtp_host", "text"], ["smtp_port", "number"], ["sender", "text"],
    ["username", "text"], ["password", "password"], ["starttls", "check"], ["ca_pem", "pem"]],
};

let env = null;

export function initAlerts(e) {
  env = e;
}

const isAdmin = () => !!env.state.me && env.state.me.role === "administrator";

function target(r) {
  if (r.type === "exec") return [r.path, ...(r.args || [])].join(" ");
  if (r.type === "webhook") return r.url;
  return `${(r.to || []).join(", ")} via ${r.smtp_host}:${r.smtp_port}`;
}

function errorLine(err) {
  return el("p", { class: "field-error", role: "alert", "data-code": (err && err.code) || "" },
    el("span", { class: "code", text: (err && err.code) || "" }), (err && err.message) || "");
}

async function refresh(dlg) {
  const box = $("#alerts-list", dlg);
  const r = await api("GET", "/v1/alerts");
  if (!r.ok) {
    box.replaceChildren(errorLine(r.error));
    return;
  }
  $("#alerts-version", dlg).textContent = t("alerts.version", { version: r.data.version });
  const rows = r.data.recipients.map((rec) =>
    el("tr", { "data-recipient": rec.name },
      el("td", { class: "res", text: rec.name }),
      el("td", { text: rec.type }),
      el("td", { class: "mono", text: target(rec) }),
      el("td", { text: rec.kinds.join(", ") }),
      el("td", { text: String(rec.delivered) }),
      el("td", { text: String(rec.given_up) }),
      el("td", {}, el("button", {
        type: "button", class: "btn ghost", "data-remove": rec.name, text: t("alerts.remove"),
        disabled: !isAdmin(), onclick: () => remove(dlg, rec.name),
      })),
    ));
  const head = el("tr", {}, ...["name", "type", "target", "kinds", "delivered", "given_up", ""].map(
    (k) => el("th", { text: k ? t(`alerts.col.${k}`) : "" })));
  box.replaceChildren(rows.length
    ? el("table", { class: "status-table" }, el("thead", {}, head), el("tbody", {}, rows))
    : el("p", { class: "empty", text: t("alerts.empty") }));
  $("#alerts-test", dlg).disabled = !isAdmin() || !rows.length;
}

async function remove(dlg, name) {
  const r = await api("DELETE", `/v1/alerts/${encodeURIComponent(name)}`);
  if (r.ok) env.message(t("alerts.removed", { name }), "success");
  else env.message(env.errorText(r.error), "error");
  await refresh(dlg);
}

async function sendTest(dlg) {
  const out = $("#alerts-test-result", dlg);
  out.replaceChildren(el("p", { class: "muted", text: t("alerts.testing") }));
  const r = await api("POST", "/v1/alerts/test", { name: null });
  if (!r.ok) {
    out.replaceChildren(errorLine(r.error));
    return;
  }
  out.replaceChildren(el("ul", { class: "alert-results" },
    Object.entries(r.data.result.results).map(([name, res]) =>
      el("li", { "data-recipient": name, "data-delivered": String(res.delivered),
        class: res.delivered ? "result-ok" : "result-bad" },
      `${name}: ${res.delivered ? t("alerts.delivered") : t("alerts.failed")} — ${res.detail}`))));
  await refresh(dlg);
}

function control(name, kind) {
  const label = t(`alerts.field.${name}`);
  let input;
  if (kind === "lines" || kind === "pem") input = el("textarea", { name, rows: kind === "pem" ? 3 : 2 });
  else if (kind === "check") input = el("input", { name, type: "checkbox", checked: true });
  else input = el("input", { name, type: kind, autocomplete: "off", value: name === "smtp_port" ? "587" : "" });
  return el("div", { class: "field", "data-field": name }, el("label", {}, el("span", { text: label }), input));
}

function renderFields(form) {
  const type = form.elements.type.value;
  $("#alerts-type-fields", form).replaceChildren(...FIELDS[type].map(([n, k]) => control(n, k)));
}

function collect(form) {
  const f = form.elements;
  const type = f.type.value;
  const body = { name: f.name.value.trim(), type };
  const kinds = [...form.querySelectorAll("input[name=kind]:checked")].map((c) => c.value);
  body.kinds = kinds.length ? kinds : ["all"];
  if (f.timeout.value) body.timeout = Number(f.timeout.value);
  for (const [n, k] of FIELDS[type]) {
    const v = k === "check" ? f[n].checked : f[n].value;
    if (k === "check") body[n] = v;
    else if (n === "args") body.args = v.split("\n").map((s) => s.trim()).filter(Boolean);
    else if (n === "to") body.to = v.split(",").map((s) => s.trim()).filter(Boolean);
    else if (n === "smtp_port") body.smtp_port = Number(v);
    else if (v) body[n] = v;
  }
  return body;
}

async function add(dlg, form) {
  const err = $("#alerts-add-error", form);
  err.replaceChildren();
  const r = await api("POST", "/v1/alerts", collect(form));
  if (!r.ok) {
    err.replaceChildren(errorLine(r.error));
    return;
  }
  env.message(t("alerts.added", { name: form.elements.name.value.trim() }), "success");
  form.reset();
  renderFields(form);
  await refresh(dlg);
}

function build() {
  const form = el("form", { id: "alerts-add", class: "alerts-add", novalidate: true },
    el("h3", { text: t("alerts.add") }),
    el("div", { class: "field", "data-field": "name" },
      el("label", {}, el("span", { text: t("alerts.field.name") }), el("input", { name: "name", autocomplete: "off" }))),
    el("div", { class: "field", "data-field": "type" },
      el("label", {}, el("span", { text: t("alerts.field.type") }),
        el("select", { name: "type" }, ["exec", "webhook", "email"].map((v) => el("option", { value: v, text: t(`alerts.type.${v}`) }))))),
    el("div", { id: "alerts-type-fields" }),
    el("fieldset", { class: "alerts-kinds" }, el("legend", { text: t("alerts.field.kinds") }),
      KINDS.map((k) => el("label", { class: "kind" }, el("input", { type: "checkbox", name: "kind", value: k }), k))),
    el("div", { class: "field", "data-field": "timeout" },
      el("label", {}, el("span", { text: t("alerts.field.timeout") }), el("input", { name: "timeout", type: "number", min: "1", max: "120" }))),
    el("div", { id: "alerts-add-error" }),
    el("button", { type: "submit", id: "alerts-add-submit", class: "btn primary", text: t("alerts.add") }),
  );
  const dlg = el("dialog", { id: "alerts-dialog", class: "wizard", "aria-labelledby": "alerts-title" },
    el("div", { class: "wizard-form" },
      el("header", { class: "wizard-head" }, el("h2", { id: "alerts-title", text: t("alerts.title") }),
        el("p", { id: "alerts-version", class: "muted" })),
      el("div", { class: "wizard-body" },
        el("p", { class: "help", text: t("alerts.help") }),
        el("div", { id: "alerts-list" }),
        el("div", { id: "alerts-test-result" }),
        isAdmin() ? form : el("p", { class: "muted", text: t("alerts.admin_only") })),
      el("footer", { class: "wizard-foot" },
        el("button", { type: "button", id: "alerts-test", class: "btn", text: t("alerts.test"), onclick: () => sendTest(dlg) }),
        el("span", { class: "spacer" }),
        el("button", { type: "button", id: "alerts-close", class: "btn ghost", text: t("alerts.close"), onclick: () => dlg.close() }))));
  form.elements.type.addEventListener("change", () => renderFields(form));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    add(dlg, form);
  });
  renderFields(form);
  return dlg;
}

export async function openAlerts() {
  // Built afresh each time: the role and the language may have changed since.
  const old = document.getElementById("alerts-dialog");
  if (old) old.remove();
  const dlg = build();
  document.body.append(dlg);
  await refresh(dlg);
  dlg.showModal();
}
