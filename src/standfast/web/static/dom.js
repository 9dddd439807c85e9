// The console's two DOM helpers, shared by every page module.

// The first element matching `sel` under `root`.
export const $ = (sel, root = document) => root.querySelector(sel);

// An element with attributes and children: `class` and `text` set the class name and
// the text; `onX` adds a listener for X; `true` makes a boolean attribute present,
// and null, undefined or false leave it out. Text is never parsed as markup.
export const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
};
