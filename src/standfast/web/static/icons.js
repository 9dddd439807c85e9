// Inline SVG icons: one shape per state so colour is never the only cue.
const NS = "http://www.w3.org/2000/svg";
const SHAPES = {
  ISP: '<circle cx="8" cy="8" r="7" fill="currentColor"/><path d="m4.6 8.2 2.2 2.2 4.6-4.8" fill="none" stroke="#0d131a" stroke-width="1.9" stroke-linecap="round" stroke-linejoin="round"/>',
  ISU: '<path d="M8 1.2 15 14.6H1z" fill="currentColor"/><path d="M8 6v4" stroke="#0d131a" stroke-width="1.8" stroke-linecap="round"/><circle cx="8" cy="12.3" r="1" fill="#0d131a"/>',
  OSU: '<circle cx="8" cy="8" r="6.2" fill="none" stroke="currentColor" stroke-width="1.8"/><rect x="5.6" y="5.6" width="4.8" height="4.8" rx=".8" fill="currentColor"/>',
  OSF: '<circle cx="8" cy="8" r="7" fill="currentColor"/><path d="m5.3 5.3 5.4 5.4m0-5.4-5.4 5.4" stroke="#0d131a" stroke-width="1.9" stroke-linecap="round"/>',
  UNKNOWN: '<circle cx="8" cy="8" r="6.2" fill="none" stroke="currentColor" stroke-width="1.6" stroke-dasharray="2.4 2"/><path d="M6.3 6.2a1.8 1.8 0 1 1 2.3 1.8c-.5.2-.6.5-.6 1v.4" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round"/><circle cx="8" cy="11.6" r=".9" fill="currentColor"/>',
  ok: '<circle cx="8" cy="8" r="7" fill="#22c55e"/><path d="m4.6 8.2 2.2 2.2 4.6-4.8" fill="none" stroke="#0d131a" stroke-width="1.9" stroke-linecap="round"/>',
  error: '<circle cx="8" cy="8" r="7" fill="#ef4444"/><path d="m5.3 5.3 5.4 5.4m0-5.4-5.4 5.4" stroke="#0d131a" stroke-width="1.9" stroke-linecap="round"/>',
  info: '<circle cx="8" cy="8" r="7" fill="#4f9cf9"/><path d="M8 7v4.5" stroke="#0d131a" stroke-width="1.9" stroke-linecap="round"/><circle cx="8" cy="4.6" r="1.1" fill="#0d131a"/>',
};

export function icon(name, cls = "state-icon") {
  const s = document.createElementNS(NS, "svg");
  s.setAttribute("viewBox", "0 0 16 16");
  s.setAttribute("class", cls);
  s.setAttribute("aria-hidden", "true");
  // Static markup from this file only, never from data.
  s.innerHTML = SHAPES[name] || SHAPES.UNKNOWN;
  return s;
}

export function stateIcon(st) {
  const s = icon(st in SHAPES ? st : "UNKNOWN", `state-icon st-${st}`);
  s.dataset.icon = st;
  return s;
}
