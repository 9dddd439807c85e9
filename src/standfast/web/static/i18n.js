// Language: the browser's (navigator.language), or the one the user switched to.
const dicts = {};
let lang = "en";

export function currentLang() {
  return lang;
}

export function pickLang() {
  const saved = localStorage.getItem("sf-lang");
  if (saved === "en" || saved === "ja") return saved;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return nav.toLowerCase().startsWith("ja") ? "ja" : "en";
}

// A language file, tried three times (a network change aborts requests in flight),
// each try bounded; throws when all fail.
async function fetchDict(code) {
  let last = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt) await new Promise((res) => setTimeout(res, 300 * attempt));
    try {
      const r = await fetch(`${code}.json`, { cache: "no-cache", signal: AbortSignal.timeout(10000) });
      if (r.ok) return await r.json();
      last = new Error(`${code}.json: HTTP ${r.status}`);
    } catch (exc) {
      last = exc;
    }
  }
  throw last;
}

export async function loadLang(code) {
  if (!dicts[code]) dicts[code] = await fetchDict(code);
  if (!dicts.en && code !== "en") await loadLang("en");
  lang = code;
  document.documentElement.lang = code;
  for (const sel of document.querySelectorAll(".lang-select")) sel.value = code;
}

export function setLang(code) {
  localStorage.setItem("sf-lang", code);
  return loadLang(code);
}

export function t(key, params = {}) {
  const text = (dicts[lang] && dicts[lang][key]) ?? (dicts.en && dicts.en[key]) ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}
