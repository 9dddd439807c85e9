// The remote API: session token, language, the X-Standfast header on every change.
import { currentLang } from "./i18n.js";

let token = sessionStorage.getItem("sf-token") || "";
const listeners = { unauthorized: [] };

export function setToken(value) {
  token = value || "";
  if (token) sessionStorage.setItem("sf-token", token);
  else sessionStorage.removeItem("sf-token");
}

export function onUnauthorized(fn) {
  listeners.unauthorized.push(fn);
}

// A read that gets no answer in this time fails (and is tried once more): a hung
// server must not leave the page waiting for ever.
const READ_TIMEOUT_MS = 30000;

// path: "/v1/..." of the API; server: run it on that server of the cluster;
// opts.timeoutMs: the deadline of each try of a read (READ_TIMEOUT_MS by default).
export async function api(method, path, body, server, opts = {}) {
  const url = server ? `/api/servers/${encodeURIComponent(server)}${path}` : `/api${path}`;
  const headers = { "Accept-Language": currentLang(), "X-Standfast": "1" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  // A read is tried twice: a network change aborts requests in flight. A change is
  // sent once (the server may have acted on it).
  for (let attempt = 0; ; attempt++) {
    try {
      r = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        signal: method === "GET" ? AbortSignal.timeout(opts.timeoutMs || READ_TIMEOUT_MS) : undefined,
      });
      break;
    } catch (exc) {
      if (method !== "GET" || attempt > 0) {
        return { ok: false, status: 0, data: null, error: { code: "", message: String(exc) } };
      }
      await new Promise((res) => setTimeout(res, 300));
    }
  }
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  const error = !r.ok && data && data.error ? data.error : null;
  if (r.status === 401 && error && path !== "/v1/login") {
    for (const fn of listeners.unauthorized) fn(error);
  }
  return { ok: r.ok, status: r.status, data, error, notices: (data && data.notices) || [] };
}

export async function login(username, password) {
  const r = await api("POST", "/v1/login", { username, password });
  if (r.ok) setToken(r.data.token);
  return r;
}

export async function logout() {
  await api("POST", "/v1/logout");
  setToken("");
}
