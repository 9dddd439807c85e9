// The wizards of the reference guide's chapter 5: create, delete, extend, unextend,
// dependencies, in service, out of service, properties. Each step may ask the server to
// validate; a catalogue error is shown next to the field it is about.
import { $, el } from "./dom.js";
import { api } from "./api.js";
import { t } from "./i18n.js";

let env = null;
let current = null;
let kitsCache = null;

// Which field a catalogue code is about (first one present in the wizard wins).
const TAG_FIELDS = ["root_tag", "target_tag", "tag"];
const CODE_FIELDS = {
  "190001": TAG_FIELDS, "190002": TAG_FIELDS, "190003": TAG_FIELDS, "190004": TAG_FIELDS,
  "000030": TAG_FIELDS, "000014": TAG_FIELDS, "107010": ["target_tag", "target_server"],
  "000004": ["target_server"], "190005": ["priority"], "190006": ["target_priority", "priority"],
  "190014": ["switchback"], "104901": ["mount_point"], "104902": ["mount_point"],
  "104903": ["mount_point"], "107006": ["mount_point"], "190402": ["mount_point"],
  "107012": ["target_server"], "107013": ["target_server"],
  "000003": ["tag_to_extend"], "193009": ["tag_to_extend", "template_server"],
  "193010": ["target_server", "server"], "193011": ["server"], "193019": ["hierarchy"],
  "190010": ["kit"], "190007": ["child"], "190008": ["child"], "190009": ["child"],
  "190018": ["child"], "190015": ["hierarchy"], "190016": ["hierarchy"], "000019": ["hierarchy"],
  "198002": ["force"],
};

function fieldsFor(err, v) {
  if (!err || !err.code) return [];
  if (["190011", "190012", "190013", "190017"].includes(err.code) && err.params && err.params.name) {
    return [`prop.${err.params.name}`];
  }
  if (err.code === "190005" && err.params) {
    const p = String(err.params.priority);
    if (String(v.template_priority) === p) return ["template_priority"];
    if (String(v.target_priority) === p) return ["target_priority"];
    return ["target_priority", "template_priority", "priority"];
  }
  return CODE_FIELDS[err.code] || [];
}

// -- fields ----------------------------------------------------------------------------

function field(name, labelKey, control, helpText) {
  return el(
    "div",
    { class: "field", "data-field": name },
    el("label", {}, el("span", { text: t(labelKey) }), control),
    helpText ? el("p", { class: "help", text: helpText }) : null,
  );
}

export function select(name, labelKey, options, value, helpText, extra = {}) {
  const s = el("select", { name, ...extra });
  for (const o of options) {
    const opt = el("option", { value: o.value, text: o.label ?? o.value, disabled: o.disabled });
    if (String(o.value) === String(value)) opt.selected = true;
    s.append(opt);
  }
  return field(name, labelKey, s, helpText);
}

function text(name, labelKey, value, helpText, extra = {}) {
  return field(name, labelKey, el("input", { name, value: value ?? "", autocomplete: "off", ...extra }), helpText);
}

// One kit property as a field labelled with its name: a list for a choice, several
// lines (a textarea keeps line breaks an input would drop) for a multi-line value.
function propField(p, value, extra = {}) {
  const name = `prop.${p.name}`;
  const v = value === undefined || value === null ? "" : String(value);
  let f;
  if (p.type === "choice" && p.choices && p.choices.length) {
    const opts = p.choices.map((c) => ({ value: c }));
    if (v && !p.choices.includes(v)) opts.unshift({ value: v });
    f = select(name, "field.id", opts, v, p.help, extra.readonly ? { disabled: true } : {});
  } else if (v.includes("\n") || p.name.endsWith("_lines")) {
    const area = el("textarea", { name, rows: String(Math.max(2, v.split("\n").length)), wrap: "off", autocomplete: "off", spellcheck: "false", ...extra });
    area.value = v;
    f = field(name, "field.id", area, p.help);
  } else {
    f = text(name, "field.id", v, p.help, extra);
  }
  f.querySelector("label > span").textContent = p.name;
  return f;
}

function combo(name, labelKey, options, value, helpText) {
  const id = `dl-${name}`;
  const input = el("input", { name, value: value ?? "", list: id, autocomplete: "off", inputmode: "numeric" });
  const dl = el("datalist", { id }, options.map((o) => el("option", { value: o })));
  const f = field(name, labelKey, input, helpText);
  f.append(dl);
  return f;
}

export function radios(name, labelKey, options, value, helpText) {
  const row = el(
    "div",
    { class: "radio-row", role: "radiogroup" },
    options.map((o) => {
      const input = el("input", { type: "radio", name, value: o.value });
      if (o.value === value) input.checked = true;
      return el("label", {}, input, el("span", { text: o.label }));
    }),
  );
  return el(
    "div",
    { class: "field", "data-field": name },
    el("span", { class: "muted", text: t(labelKey) }),
    row,
    helpText ? el("p", { class: "help", text: helpText }) : null,
  );
}

export function summary(pairs) {
  return el("dl", { class: "summary" }, pairs.flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", { text: String(v ?? "") })]));
}

function transcript(lines, notices, error) {
  const pre = el("pre", { class: "transcript", "data-testid": "transcript" });
  for (const line of lines || []) pre.append(el("div", { class: /successful|END successful/.test(line) ? "ok" : "", text: line }));
  for (const n of notices || []) pre.append(el("div", { class: n.severity === "error" ? "err" : "", text: `${n.code}: ${n.message}` }));
  if (error) pre.append(el("div", { class: "err", text: `${error.code}: ${error.message}` }));
  return pre;
}

const SWITCHBACK = () => [
  { value: "intelligent", label: t("switchback.intelligent") },
  { value: "automatic", label: t("switchback.automatic") },
];

export function serverOptions(onlyAlive = true, filter = () => true) {
  const m = env.model();
  return m.servers
    .filter((s) => (!onlyAlive || m.alive.has(s)) && filter(s))
    .map((s) => ({ value: s, label: s }));
}

function copiesOf(server, tag) {
  const m = env.model();
  const r = m.byKey.get(`${server}\u0000${tag}`);
  return r ? m.equivs.get(r.equiv) : null;
}

function rootsOn(server) {
  return env.resourcesOn(server).filter((r) => r.parents.length === 0);
}

// What deleting the hierarchy of `root` on `server` removes (the engine's rule): the
// root and every resource below it that nothing outside the hierarchy depends on.
function deletedBy(server, root) {
  const byTag = new Map(env.resourcesOn(server).map((r) => [r.tag, r]));
  const closure = (tag, key) => {
    const seen = [];
    const stack = [...((byTag.get(tag) || {})[key] || [])];
    while (stack.length) {
      const t = stack.shift();
      if (seen.includes(t) || !byTag.has(t)) continue;
      seen.push(t);
      stack.push(...byTag.get(t)[key]);
    }
    return seen;
  };
  if (!byTag.has(root)) return [];
  const below = closure(root, "children");
  const inside = new Set([root, ...below]);
  return [root, ...below.filter((t) => closure(t, "parents").every((a) => inside.has(a)))];
}

async function kits() {
  if (!kitsCache) {
    const r = await api("GET", "/v1/kits");
    kitsCache = r.ok ? r.data : [];
  }
  return kitsCache;
}

async function validate(fieldName, value) {
  const r = await api("POST", "/v1/validate", { field: fieldName, value: String(value ?? "") });
  return r.ok ? null : r.error;
}

// -- the dialog ------------------------------------------------------------------------

class Wizard {
  constructor(name, def, prefill) {
    this.name = name;
    this.def = def;
    this.v = { ...prefill };
    this.index = 0;
    this.result = null;
    this.busy = false;
  }

  steps() {
    return this.def.steps.filter((s) => !(s.skip && s.skip(this.v)));
  }

  step() {
    return this.steps()[this.index];
  }

  async show() {
    const dlg = $("#wizard");
    $("#wizard-title").textContent = t(`action.${this.name}`).replace(/…$/, "");
    dlg.dataset.wizard = this.name;
    if (this.def.init) await this.def.init(this.v);
    if (!dlg.open) dlg.showModal();
    await this.render();
  }

  async render() {
    const steps = this.steps();
    const step = this.step();
    $("#wizard-steps").replaceChildren(
      ...steps.map((s, i) => el("li", { class: i === this.index ? "current" : i < this.index ? "done" : "", text: t(s.title) })),
    );
    const body = $("#wizard-body");
    body.dataset.step = step.id;
    body.replaceChildren(el("p", { class: "muted", text: t("wizard.working") }));
    const content = await step.render(this.v, this);
    body.replaceChildren(...[content].flat().filter(Boolean), el("div", { class: "step-error", id: "step-error" }));
    const last = step.final === true;
    const back = $("#wz-back");
    const next = $("#wz-next");
    back.hidden = last || this.index === 0;
    back.disabled = this.index === 0;
    next.textContent = step.nextLabel ? t(step.nextLabel) : last ? t("wizard.done") : t("wizard.next");
    next.disabled = !!(step.blocked && step.blocked(this.v));
    next.className = `btn ${step.danger ? "danger" : "primary"}`;
    $("#wz-cancel").hidden = last;
    const defaults = $("#wz-defaults");
    defaults.hidden = !(this.def.acceptDefaults && step.defaultsHere);
    const extra = $("#wz-extra");
    if (extra) extra.remove();
    if (step.extraButton) {
      const b = el("button", { type: "button", id: "wz-extra", class: "btn", text: t(step.extraButton.label) });
      b.addEventListener("click", () => step.extraButton.run(this.v, this));
      if (step.extraButton.visible(this.v)) next.before(b);
    }
    const first = body.querySelector("input:not([type=radio]), select");
    if (first) first.focus();
  }

  collect() {
    const body = $("#wizard-body");
    for (const input of body.querySelectorAll("input[name], select[name], textarea[name]")) {
      if (input.type === "radio") {
        if (input.checked) this.v[input.name] = input.value;
      } else {
        this.v[input.name] = input.value;
      }
    }
  }

  clearErrors() {
    for (const e of document.querySelectorAll("#wizard-body .field-error")) e.remove();
    for (const f of document.querySelectorAll("#wizard-body .has-error")) f.classList.remove("has-error");
  }

  // Show a catalogue error next to its field, going back to the step that has it.
  async showError(err) {
    const names = fieldsFor(err, this.v);
    const steps = this.steps();
    for (const name of names) {
      const at = steps.findIndex((s) => (s.fields || []).includes(name) || (name.startsWith("prop.") && (s.fields || []).includes("props")));
      if (at >= 0) {
        if (at !== this.index) {
          this.index = at;
          await this.render();
        }
        const f = document.querySelector(`#wizard-body .field[data-field="${CSS.escape(name)}"]`);
        if (f) {
          f.classList.add("has-error");
          f.append(errorBox(err));
          return;
        }
      }
    }
    const box = $("#step-error");
    if (box) box.replaceChildren(errorBox(err));
  }

  async next() {
    if (this.busy) return;
    const step = this.step();
    if (step.final) {
      close();
      return;
    }
    this.collect();
    this.clearErrors();
    this.busy = true;
    $("#wz-next").disabled = true;
    try {
      const outcome = step.next ? await step.next(this.v, this) : null;
      if (outcome && outcome.error) {
        await this.showError(outcome.error);
        return;
      }
      if (outcome && outcome.goto) {
        this.index = this.steps().findIndex((s) => s.id === outcome.goto);
      } else {
        this.index = Math.min(this.index + 1, this.steps().length - 1);
      }
      await this.render();
    } finally {
      this.busy = false;
      const s = this.step();
      $("#wz-next").disabled = !!(s.blocked && s.blocked(this.v));
    }
  }

  async back() {
    this.collect();
    if (this.index > 0) this.index -= 1;
    await this.render();
  }
}

function errorBox(err) {
  return el("p", { class: "field-error", role: "alert", "data-code": err.code || "" }, el("span", { class: "code", text: err.code || "" }), err.message || "");
}

function close() {
  const dlg = $("#wizard");
  if (dlg.open) dlg.close();
  current = null;
}

// A result step shared by every wizard: the transcript and what happened.
export function resultStep(extraButton) {
  return {
    id: "result",
    title: "step.result",
    final: true,
    extraButton,
    render: (v) => {
      const r = v._result;
      if (!r) return null;
      return [
        el("p", { class: r.ok ? "result-ok" : "result-bad", "data-result": r.ok ? "ok" : "failed", text: r.ok ? t("wizard.success") : t("wizard.failed") }),
        transcript(r.data && r.data.transcript, (r.data && r.data.notices) || r.notices, r.error),
      ];
    },
  };
}

// Runs the wizard's action; a field error sends the operator back to that field.
export async function perform(v, action, label) {
  const started = performance.now();
  const r = await action();
  v._result = r;
  if (r.ok) {
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    env.message(t("msg.done", { action: label, tag: v.tag || v.root_tag || v.tag_to_extend || v.hierarchy || v.parent || "", seconds }), "success");
    return { goto: "result" };
  }
  env.message(env.errorText(r.error), "error");
  if (fieldsFor(r.error, v).length) return { error: r.error };
  return { goto: "result" };
}

// -- the wizards -----------------------------------------------------------------------

export const serverStep = (help) => ({
  id: "server",
  title: "step.server",
  fields: ["server"],
  skip: (v) => v.fromContext,
  render: (v) => select("server", "field.server", serverOptions(), v.server, help),
});

export const tagStep = (id, filter) => ({
  id,
  title: "step.hierarchy",
  fields: ["hierarchy"],
  skip: (v) => v.fromContext,
  init: true,
  render: (v) => {
    const list = filter(v);
    if (!list.length) return el("p", { class: "empty", text: t("msg.nothing") });
    if (!list.some((r) => r.tag === v.hierarchy)) v.hierarchy = v.tag && list.some((r) => r.tag === v.tag) ? v.tag : list[0].tag;
    return select("hierarchy", "field.hierarchy", list.map((r) => ({ value: r.tag, label: `${r.tag} (${r.state})` })), v.hierarchy);
  },
  blocked: (v) => !filter(v).length,
});

const DEFS = {
  create: {
    init: async (v) => {
      const ks = await kits();
      v.kit = v.kit || (ks.find((k) => k.name === "nas") ? "nas" : ks[0] && ks[0].name);
      v.switchback = v.switchback || "intelligent";
      v.server = v.server || env.state.view.local;
    },
    steps: [
      {
        id: "kit",
        title: "step.kit",
        fields: ["kit"],
        render: async (v) => {
          const ks = await kits();
          return select("kit", "field.kit", ks.map((k) => ({ value: k.name, label: `${k.name} — ${k.description}` })), v.kit);
        },
      },
      {
        // The ocf kit: which OCF agent (its properties come from its meta-data).
        id: "agent",
        title: "step.agent",
        fields: ["prop.agent"],
        skip: (v) => v.kit !== "ocf",
        render: async (v) => {
          const kit = (await kits()).find((k) => k.name === "ocf");
          const agents = (kit && kit.agents) || [];
          if (!v["prop.agent"] && agents.length) v["prop.agent"] = agents.includes("ocf:heartbeat:Dummy") ? "ocf:heartbeat:Dummy" : agents[0];
          return select("prop.agent", "field.agent", agents.map((a) => ({ value: a })), v["prop.agent"], t("help.agent"));
        },
      },
      {
        id: "switchback",
        title: "step.switchback",
        fields: ["switchback"],
        render: (v) => radios("switchback", "field.switchback", SWITCHBACK(), v.switchback, t("help.switchback")),
      },
      {
        id: "server",
        title: "step.server",
        fields: ["server"],
        render: (v) => select("server", "field.server", serverOptions(), v.server, t("help.server_create")),
      },
      {
        id: "resource",
        title: "step.resource",
        fields: ["mount_point", "props"],
        render: async (v) => {
          if (v.kit === "nas" || v.kit === "filesys") {
            const r = await api("GET", "/v1/nfs-mounts", undefined, v.server);
            const mounts = r.ok ? r.data.filter((m) => m.protected !== "true") : [];
            v._mounts = mounts;
            if (!mounts.length) {
              v.mount_point = "";
              return [select("mount_point", "field.mount_point", [], "", t("help.no_mounts", { server: v.server }))];
            }
            if (!mounts.some((m) => m.mount_point === v.mount_point)) v.mount_point = mounts[0].mount_point;
            return select("mount_point", "field.mount_point", mounts.map((m) => ({ value: m.mount_point, label: `${m.mount_point}  ←  ${m.source} (${m.fstype})` })), v.mount_point, t("help.mount_point", { server: v.server }));
          }
          let kit = (await kits()).find((k) => k.name === v.kit);
          if (v.kit === "ocf" && v["prop.agent"]) {
            // The agent's own properties, from its meta-data on the chosen server.
            const r = await api("GET", `/v1/kits/ocf/agents/${encodeURIComponent(v["prop.agent"])}`, undefined, v.server);
            kit = r.ok ? r.data : { properties: [] };
          }
          v.props = v.props || {};
          return (kit ? kit.properties : []).map((p) =>
            propField({ ...p, help: p.help + (p.required ? " *" : "") }, v[`prop.${p.name}`] ?? p.default ?? ""),
          );
        },
        next: async (v) => {
          if (v.kit === "nas" || v.kit === "filesys") {
            const err = await validate("mount_point", v.mount_point);
            if (err) return { error: err };
          }
          return null;
        },
      },
      {
        id: "root_tag",
        title: "step.root_tag",
        fields: ["root_tag"],
        nextLabel: "wizard.create_instance",
        render: (v) => {
          if (!v.root_tag || v._tagFor !== `${v.kit}|${v.mount_point}|${v.server}`) {
            v._tagFor = `${v.kit}|${v.mount_point}|${v.server}`;
            if (v.kit === "nas" || v.kit === "filesys") {
              // The kit's own default, as the server computes it (the guide's
              // "tmp/mnt-on-tom.brown.com" for /tmp/mnt on tom.brown.com).
              const m = (v._mounts || []).find((x) => x.mount_point === v.mount_point);
              v.root_tag = m && m.default_tag ? m.default_tag : `${(v.mount_point || "").replace(/^\/+|\/+$/g, "")}-on-${v.server}`;
            } else {
              v.root_tag = v.root_tag || v.kit;
            }
          }
          return text("root_tag", "field.root_tag", v.root_tag, t("help.root_tag"));
        },
        next: async (v) => {
          const err = await validate("tag", v.root_tag);
          if (err) return { error: err };
          const body = { kit: v.kit, tag: v.root_tag, switchback: v.switchback, props: {} };
          if (v.kit === "nas" || v.kit === "filesys") body.id = v.mount_point;
          for (const [k, val] of Object.entries(v)) {
            if (k.startsWith("prop.") && String(val).trim() !== "") body.props[k.slice(5)] = val;
          }
          return perform(v, () => api("POST", "/v1/resources", body, v.server), t("action.create").replace(/…$/, ""));
        },
      },
      resultStep({
        label: "wizard.continue_extend",
        visible: (v) => v._result && v._result.ok && env.can("extend"),
        run: (v) => {
          const tag = (v._result.data.result && v._result.data.result.root) || v.root_tag;
          openWizard("extend", { server: v.server, tag, fromContext: true });
        },
      }),
    ],
  },

  delete: {
    init: async (v) => {
      v.server = v.server || env.state.view.local;
      v.hierarchy = v.tag;
    },
    steps: [
      serverStep(t("help.delete")),
      tagStep("hierarchy", (v) => rootsOn(v.server)),
      {
        id: "confirm",
        title: "step.confirm",
        nextLabel: "wizard.delete",
        danger: true,
        render: (v) => {
          const res = deletedBy(v.server, v.hierarchy);
          return [
            summary([["field.server", v.server], ["field.hierarchy", v.hierarchy]]),
            el("p", { text: t("confirm.delete", { tag: v.hierarchy, resources: res.join(", ") || v.hierarchy }) }),
            el("p", { class: "help", text: t("help.delete") }),
          ];
        },
        next: (v) => perform(v, () => api("DELETE", `/v1/resources/${encodeURIComponent(v.hierarchy)}`, undefined, v.server), t("action.delete")),
      },
      resultStep(),
    ],
  },

  extend: {
    init: async (v) => {
      const m = env.model();
      if (v.tag) {
        const eq = copiesOf(v.server || m.view.local, v.tag);
        if (eq && eq.holder && !v.fromContext) v.server = eq.holder.server;
      }
      v.template_server = v.server || (m.roots[0] && m.roots[0].holder ? m.roots[0].holder.server : m.view.local);
      v.tag_to_extend = v.tag || (rootsOn(v.template_server)[0] || {}).tag;
      extendDefaults(v, false);
    },
    acceptDefaults: true,
    steps: [
      {
        id: "template",
        title: "step.template",
        fields: ["template_server"],
        defaultsHere: true,
        skip: (v) => v.fromContext,
        render: (v) => select("template_server", "field.template_server", serverOptions(), v.template_server, t("help.template_server")),
      },
      {
        id: "tag",
        title: "step.tag",
        fields: ["tag_to_extend"],
        defaultsHere: true,
        skip: (v) => v.fromContext,
        render: (v) => {
          const roots = rootsOn(v.template_server);
          if (!roots.some((r) => r.tag === v.tag_to_extend)) v.tag_to_extend = roots[0] ? roots[0].tag : "";
          return select("tag_to_extend", "field.tag_to_extend", roots.map((r) => ({ value: r.tag, label: `${r.tag} (${r.state})` })), v.tag_to_extend);
        },
        blocked: (v) => !rootsOn(v.template_server).length,
        next: async (v) => {
          extendDefaults(v, true);
          return null;
        },
      },
      {
        id: "target",
        title: "step.target",
        fields: ["target_server", "target_tag"],
        defaultsHere: true,
        render: (v) => {
          extendDefaults(v, false);
          const eq = copiesOf(v.template_server, v.tag_to_extend);
          const have = new Set(eq ? eq.copies.map((c) => c.server) : []);
          const opts = serverOptions(false, (s) => s !== v.template_server).map((o) => ({ ...o, disabled: have.has(o.value) }));
          return [
            select("target_server", "field.target_server", opts, v.target_server),
            text("target_tag", "field.target_tag", v.target_tag ?? v.tag_to_extend, t("help.root_tag")),
          ];
        },
        next: async (v) => {
          const err = await validate("tag", v.target_tag);
          return err ? { error: err } : null;
        },
      },
      {
        id: "switchback",
        title: "step.switchback",
        fields: ["switchback"],
        defaultsHere: true,
        render: (v) => radios("switchback", "field.switchback", SWITCHBACK(), v.switchback, t("help.switchback")),
      },
      {
        id: "priorities",
        title: "step.priorities",
        fields: ["template_priority", "target_priority"],
        defaultsHere: true,
        render: (v) => {
          const out = [];
          if (v._first) out.push(text("template_priority", "field.template_priority", v.template_priority, t("help.template_priority"), { inputmode: "numeric" }));
          out.push(combo("target_priority", "field.target_priority", v._free.slice(0, 10), v.target_priority, t("help.target_priority")));
          return out;
        },
        next: async (v) => {
          for (const f of v._first ? ["template_priority", "target_priority"] : ["target_priority"]) {
            const err = await validate("priority", v[f]);
            if (err) return { error: { ...err, params: { ...(err.params || {}), priority: v[f] } } };
          }
          return null;
        },
      },
      {
        id: "summary",
        title: "step.summary",
        nextLabel: "wizard.check",
        render: (v) => [
          summary([
            ["field.template_server", v.template_server],
            ["field.tag_to_extend", v.tag_to_extend],
            ["field.target_server", v.target_server],
            ["field.target_tag", v.target_tag],
            ["field.switchback", v.switchback],
            ...(v._first ? [["field.template_priority", v.template_priority]] : []),
            ["field.target_priority", v.target_priority],
          ]),
          el("p", { class: "help", text: t("help.precheck", { target: v.target_server }) }),
        ],
        next: (v) => checkExtend(v),
      },
      {
        // The guide's pre-extend check output; Next (Extend) only once it succeeded.
        id: "precheck",
        title: "step.precheck",
        nextLabel: "wizard.extend",
        render: (v) => [
          el("pre", { class: "transcript", "data-testid": "precheck-output",
                      text: (v._precheck || []).join("\n") }),
        ],
        next: (v) => runExtend(v),
      },
      resultStep(),
    ],
  },

  unextend: {
    init: async (v) => {
      v.target_server = v.server;
      v.hierarchy = v.tag;
    },
    steps: [
      {
        id: "target",
        title: "step.target",
        fields: ["target_server", "server"],
        skip: (v) => v.fromContext && !v.global,
        render: (v) => {
          const opts = serverOptions(false).map((o) => ({ ...o, disabled: !unextendable(o.value).length }));
          if (!v.target_server || !unextendable(v.target_server).length) v.target_server = (opts.find((o) => !o.disabled) || {}).value;
          return select("target_server", "field.target_server", opts, v.target_server, t("help.unextend_target"));
        },
      },
      {
        id: "hierarchy",
        title: "step.hierarchy",
        fields: ["hierarchy"],
        skip: (v) => v.fromContext && !v.global,
        render: (v) => {
          const list = unextendable(v.target_server);
          if (!list.length) return el("p", { class: "empty", text: t("msg.nothing") });
          if (!list.some((r) => r.tag === v.hierarchy)) v.hierarchy = list[0].tag;
          return select("hierarchy", "field.hierarchy", list.map((r) => ({ value: r.tag, label: `${r.tag} (${r.state})` })), v.hierarchy);
        },
        blocked: (v) => !unextendable(v.target_server).length,
      },
      {
        id: "confirm",
        title: "step.confirm",
        nextLabel: "wizard.unextend",
        danger: true,
        render: (v) =>
          el("pre", {
            class: "transcript",
            "data-testid": "unextend-confirm",
            text: `You have specified the following resource hierarchy for unextend.\nTarget Server = ${v.target_server}\nTarget Tag = ${v.hierarchy}`,
          }),
        next: (v) =>
          perform(v, () => api("POST", "/v1/unextend", { tag: v.hierarchy, server: v.target_server }, unextendVia(v)), t("action.unextend")),
      },
      resultStep(),
    ],
  },

  dep_create: {
    init: async (v) => {
      v.server = v.server || env.state.view.local;
      v.parent = v.tag;
    },
    steps: [
      serverStep(),
      {
        id: "parent",
        title: "step.parent",
        fields: ["parent"],
        render: (v) => {
          const list = env.resourcesOn(v.server);
          if (!list.some((r) => r.tag === v.parent)) v.parent = list[0] ? list[0].tag : "";
          return select("parent", "field.parent", list.map((r) => ({ value: r.tag, label: `${r.tag} (${r.kit})` })), v.parent);
        },
        blocked: (v) => !env.resourcesOn(v.server).length,
      },
      {
        id: "child",
        title: "step.child",
        fields: ["child"],
        render: (v) => {
          const list = env.resourcesOn(v.server).filter((r) => r.tag !== v.parent);
          if (!list.some((r) => r.tag === v.child)) v.child = list[0] ? list[0].tag : "";
          return select("child", "field.child", list.map((r) => ({ value: r.tag, label: `${r.tag} (${r.kit})` })), v.child);
        },
      },
      {
        id: "confirm",
        title: "step.confirm",
        nextLabel: "wizard.apply",
        render: (v) => el("p", { text: t("confirm.dep_create", v) }),
        next: (v) => perform(v, () => api("POST", "/v1/dependencies", { parent: v.parent, child: v.child }, v.server), t("action.dep_create")),
      },
      resultStep(),
    ],
  },

  dep_delete: {
    init: async (v) => {
      v.server = v.server || env.state.view.local;
      v.parent = v.tag;
    },
    steps: [
      serverStep(),
      {
        id: "parent",
        title: "step.parent",
        fields: ["parent"],
        render: (v) => {
          const list = env.resourcesOn(v.server).filter((r) => r.children.length);
          if (!list.length) return el("p", { class: "empty", text: t("msg.nothing") });
          if (!list.some((r) => r.tag === v.parent)) v.parent = list[0].tag;
          return select("parent", "field.parent", list.map((r) => ({ value: r.tag })), v.parent);
        },
        blocked: (v) => !env.resourcesOn(v.server).some((r) => r.children.length),
      },
      {
        id: "child",
        title: "step.child",
        fields: ["child"],
        render: (v) => {
          const p = env.resourcesOn(v.server).find((r) => r.tag === v.parent);
          const kids = p ? p.children : [];
          if (!kids.includes(v.child)) v.child = kids[0] || "";
          return select("child", "field.child", kids.map((c) => ({ value: c })), v.child);
        },
      },
      {
        id: "confirm",
        title: "step.confirm",
        nextLabel: "wizard.apply",
        danger: true,
        render: (v) => el("p", { text: t("confirm.dep_delete", v) }),
        next: (v) => perform(v, () => api("DELETE", "/v1/dependencies", { parent: v.parent, child: v.child }, v.server), t("action.dep_delete")),
      },
      resultStep(),
    ],
  },

  in_service: serviceWizard("in_service", "/v1/in-service"),
  out_of_service: serviceWizard("out_of_service", "/v1/out-of-service"),

  properties: {
    init: async (v) => {
      v.server = v.server || env.state.view.local;
      v.hierarchy = v.tag;
    },
    steps: [
      serverStep(),
      tagStep("hierarchy", (v) => env.resourcesOn(v.server)),
      {
        id: "properties",
        title: "step.properties",
        fields: ["switchback", "priority", "props"],
        nextLabel: "wizard.save",
        blocked: () => !env.can("create"),
        render: async (v) => {
          const r = await api("GET", `/v1/resources/${encodeURIComponent(v.hierarchy)}`, undefined, v.server);
          if (!r.ok) return errorBox(r.error || { message: t("msg.unreachable", { server: v.server }) });
          const res = r.data;
          v._orig = res;
          const kit = (await kits()).find((k) => k.name === res.kit);
          const ro = !env.can("create");
          const out = [
            summary([
              ["field.tag", res.tag], ["field.id", res.id], ["field.kit", res.kit], ["field.state", res.state],
              ["field.reason", res.reason || "—"], ["field.parents", res.parents.join(", ") || "—"],
              ["field.children", res.children.join(", ") || "—"], ["field.equiv", res.equiv],
            ]),
            radios("switchback", "field.switchback", SWITCHBACK(), res.switchback),
            text("priority", "field.priority", res.priority, t("help.target_priority"), { inputmode: "numeric", readonly: ro }),
          ];
          for (const p of kit ? kit.properties : []) {
            if (!p.mutable) continue;
            out.push(propField(p, res.props ? res.props[p.name] : "", { readonly: ro }));
          }
          if (ro) {
            out.unshift(el("p", { class: "help", text: t("help.props_readonly") }));
            setTimeout(() => {
              for (const i of document.querySelectorAll("#wizard-body input[type=radio]")) i.disabled = true;
            });
          }
          return out;
        },
        next: async (v) => {
          const o = v._orig;
          if (!o) return { goto: "result" };
          const body = { props: {} };
          if (v.switchback !== o.switchback) body.switchback = v.switchback;
          if (String(v.priority) !== String(o.priority)) {
            const err = await validate("priority", v.priority);
            if (err) return { error: err };
            body.priority = Number(v.priority);
          }
          for (const [k, val] of Object.entries(v)) {
            if (k.startsWith("prop.") && String(val) !== String((o.props || {})[k.slice(5)] ?? "")) body.props[k.slice(5)] = val;
          }
          return perform(v, () => api("PATCH", `/v1/resources/${encodeURIComponent(v.hierarchy)}`, body, v.server), t("action.properties"));
        },
      },
      resultStep(),
    ],
  },
};

function serviceWizard(name, path) {
  return {
    init: async (v) => {
      v.server = v.server || env.state.view.local;
      v.hierarchy = v.tag;
    },
    steps: [
      serverStep(),
      tagStep("hierarchy", (v) => env.resourcesOn(v.server)),
      {
        id: "confirm",
        title: "step.confirm",
        nextLabel: "wizard.apply",
        danger: name === "out_of_service",
        render: (v) => [
          summary([["field.server", v.server], ["field.hierarchy", v.hierarchy]]),
          el("p", { text: t(`confirm.${name}`, { tag: v.hierarchy, server: v.server }) }),
        ],
        next: (v) => perform(v, () => api("POST", path, { tag: v.hierarchy }, v.server), t(`action.${name}`).replace(/…$/, "")),
      },
      resultStep(),
    ],
  };
}

// Unextend is asked of this server: every server holds the whole configuration.
function unextendVia() {
  return env.state.view.local;
}

function unextendable(server) {
  const m = env.model();
  return env.resourcesOn(server).filter((r) => {
    if (r.parents.length) return false;
    const eq = m.equivs.get(r.equiv);
    return eq && eq.copies.length > 1 && r.state !== "ISP" && r.state !== "ISU";
  });
}

// Defaults of the extend wizard from what the cluster shows; `force` recomputes
// those that depend on the template and tag.
function extendDefaults(v, force) {
  const eq = copiesOf(v.template_server, v.tag_to_extend);
  const tmpl = eq ? eq.copies.find((c) => c.server === v.template_server) : null;
  const used = new Set(eq ? eq.copies.map((c) => c.priority) : []);
  v._first = !eq || eq.copies.length === 1;
  if (force || v.template_priority === undefined) v.template_priority = tmpl ? tmpl.priority : 1;
  if (v._first) used.add(Number(v.template_priority));
  v._free = [];
  for (let p = 10; p < 1000 && v._free.length < 20; p += 10) if (!used.has(p)) v._free.push(p);
  if (force || v.target_priority === undefined) v.target_priority = v._free[0];
  const have = new Set(eq ? eq.copies.map((c) => c.server) : []);
  const m = env.model();
  if (force || !v.target_server || have.has(v.target_server)) {
    v.target_server = m.servers.find((s) => !have.has(s) && m.alive.has(s)) || m.servers.find((s) => !have.has(s)) || "";
  }
  if (force || v.target_tag === undefined) v.target_tag = v.tag_to_extend;
  if (force || !v.switchback) v.switchback = tmpl ? tmpl.switchback : "intelligent";
}

async function checkExtend(v) {
  const r = await api("POST", "/v1/extend", { ...extendBody(v), check_only: true }, v.template_server);
  if (!r.ok) {
    env.message(env.errorText(r.error), "error");
    return { error: r.error };
  }
  v._precheck = (r.data && r.data.transcript) || [];
  return null;
}

function extendBody(v) {
  const body = {
    tag: v.tag_to_extend,
    target: v.target_server,
    switchback: v.switchback,
    target_priority: Number(v.target_priority),
  };
  if (v.target_tag && v.target_tag !== v.tag_to_extend) body.target_tag = v.target_tag;
  if (v._first) body.template_priority = Number(v.template_priority);
  return body;
}

async function runExtend(v) {
  const body = extendBody(v);
  return perform(v, () => api("POST", "/v1/extend", body, v.template_server), t("action.extend").replace(/…$/, ""));
}

// -- entry points ------------------------------------------------------------------------

export function initWizards(e) {
  env = e;
  $("#wz-next").addEventListener("click", () => current && current.next());
  $("#wz-back").addEventListener("click", () => current && current.back());
  $("#wz-cancel").addEventListener("click", close);
  $("#wz-defaults").addEventListener("click", async () => {
    if (!current || current.busy) return;
    current.collect();
    extendDefaults(current.v, false);
    current.busy = true;
    try {
      const out = await runExtend(current.v);
      if (out.error) await current.showError(out.error);
      else {
        current.index = current.steps().findIndex((s) => s.id === "result");
        await current.render();
      }
    } finally {
      current.busy = false;
    }
  });
  $("#wizard").addEventListener("cancel", () => (current = null));
  $("#wizard-form").addEventListener("submit", (ev) => ev.preventDefault());
}

// Another module's wizard (maintenance.js), built from the helpers exported here.
export function defineWizard(name, def) {
  DEFS[name] = def;
}

export async function openWizard(name, prefill) {
  const def = DEFS[name];
  if (!def || !env.state.view) return;
  current = new Wizard(name, def, prefill || {});
  await current.show();
}
