// Maintenance mode and server standby (docs/maintenance.md): the wizards that turn them
// on and off, the cluster menu and the context menus' entries. Each confirms first with
// what the change suspends; the daemon's notices (198004-198009) or its refusal (the
// catalogue's code and text, also in the message bar) are the result.
import { el } from "./dom.js";
import { api } from "./api.js";
import { t } from "./i18n.js";
import { defineWizard, perform, radios, resultStep, select, serverOptions, serverStep, summary, tagStep } from "./wizards.js";

let env = null;

// The least role of each action: the API's (POST /v1/maintenance and /v1/standby are
// administrators' only, src/standfast/api/remote/sessions.py).
export const MODE_NEEDS = {
  maintenance_on: "administrator", maintenance_off: "administrator",
  hierarchy_maintenance_on: "administrator", hierarchy_maintenance_off: "administrator",
  standby: "administrator", unstandby: "administrator",
};

// The entries of the menus and context menus ("-": a separator).
export const CLUSTER_ITEMS = ["maintenance_on", "maintenance_off", "-", "standby", "unstandby"];
export const HIERARCHY_ITEMS = ["hierarchy_maintenance_on", "hierarchy_maintenance_off"];
export const SERVER_ITEMS = ["standby", "unstandby"];

const label = (name) => t(`action.${name}`).replace(/…$/, "");

// Whether a server is in standby, as the daemon serving this page knows it.
export function inStandby(server) {
  return !!env && !!env.state.view && (env.state.view.standby || []).includes(server);
}

// The cluster-wide switch: asked of this server (the flag reaches every server).
function clusterWizard(on) {
  const name = on ? "maintenance_on" : "maintenance_off";
  return {
    init: async (v) => {
      const cluster = env.state.status && env.state.status.cluster;
      v.tag = cluster ? cluster.name : env.state.view.local;
    },
    steps: [
      {
        id: "confirm",
        title: "step.confirm",
        nextLabel: "wizard.apply",
        danger: on,
        render: (v) => [
          summary([["field.cluster", v.tag], ["field.maintenance_now", maintenanceNow()]]),
          el("p", { "data-testid": "mode-confirm", text: t(`confirm.${name}`) }),
        ],
        next: (v) => perform(v, () => api("POST", "/v1/maintenance", { on, tag: null }), label(name)),
      },
      resultStep(),
    ],
  };
}

function maintenanceNow() {
  const mm = (env.state.status && env.state.status.maintenance) || { cluster: false, hierarchies: [] };
  if (mm.cluster) return t("mode.cluster_on");
  return mm.hierarchies.length ? t("mode.hierarchies_on", { tags: mm.hierarchies.join(", ") }) : t("mode.off");
}

// One hierarchy's switch: asked of a server holding a copy of it (the tag is that
// server's); every server's copy of the hierarchy follows.
function hierarchyWizard(on) {
  const name = on ? "hierarchy_maintenance_on" : "hierarchy_maintenance_off";
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
        danger: on,
        render: (v) => [
          summary([["field.server", v.server], ["field.hierarchy", v.hierarchy]]),
          el("p", { "data-testid": "mode-confirm", text: t(`confirm.${name}`, { tag: v.hierarchy }) }),
        ],
        next: (v) => perform(v, () => api("POST", "/v1/maintenance", { on, tag: v.hierarchy }, v.server), label(name)),
      },
      resultStep(),
    ],
  };
}

// Standby of any server, asked of this one. `force` (standby only): go into standby
// even when a hierarchy it serves has no other server to go to (198002 otherwise); it
// keeps that hierarchy until another server can take it.
function standbyWizard(on) {
  const name = on ? "standby" : "unstandby";
  return {
    init: async (v) => {
      v.server = v.server || env.state.view.local;
      v.force = v.force || "no";
    },
    steps: [
      {
        id: "server",
        title: "step.server",
        fields: ["server"],
        skip: (v) => v.fromContext,
        render: (v) => select("server", "field.server", serverOptions(false), v.server),
      },
      {
        id: "confirm",
        title: "step.confirm",
        fields: ["force"],
        nextLabel: "wizard.apply",
        danger: on,
        render: (v) => [
          summary([["field.server", v.server], ["field.standby_now", inStandby(v.server) ? t("mode.standby") : t("mode.not_standby")]]),
          el("p", { "data-testid": "mode-confirm", text: t(`confirm.${name}`, { server: v.server }) }),
          on
            ? radios("force", "field.force", [
                { value: "no", label: t("force.no") },
                { value: "yes", label: t("force.yes") },
              ], v.force, t("help.force"))
            : null,
        ],
        next: (v) => {
          v.tag = v.server;
          const body = { server: v.server, on, force: on && v.force === "yes" };
          return perform(v, () => api("POST", "/v1/standby", body), label(name));
        },
      },
      resultStep(),
    ],
  };
}

export function initMaintenance(e) {
  env = e;
  defineWizard("maintenance_on", clusterWizard(true));
  defineWizard("maintenance_off", clusterWizard(false));
  defineWizard("hierarchy_maintenance_on", hierarchyWizard(true));
  defineWizard("hierarchy_maintenance_off", hierarchyWizard(false));
  defineWizard("standby", standbyWizard(true));
  defineWizard("unstandby", standbyWizard(false));
}
