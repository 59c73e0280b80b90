// Tiny DOM helpers: an element builder, times shown relative with the absolute time at hand, copyable ids, JSON.

/**
 * h('a', { href: '#/runs', class: 'x', dataset: { testid: 'y' }, onclick: fn }, 'text', child, [more])
 * Attributes: `class`, `dataset`, `testid` (data-testid), `style` as an object, `on*` handlers, booleans
 * (present when true), everything else setAttribute.
 * Children: strings, numbers, nodes, arrays of them; null/undefined/false are skipped.
 */
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'testid') el.setAttribute('data-testid', value);
    else if (name === 'style' && typeof value === 'object') {
      // setProperty: plain assignment ignores custom properties (--depth)
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop.startsWith('--') ? prop : prop.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), String(v));
    }
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'value' && !svg) el.value = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the node's children. */
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const UNITS = [
  ['year', 365 * 24 * 3600e3],
  ['month', 30 * 24 * 3600e3],
  ['day', 24 * 3600e3],
  ['h', 3600e3],
  ['min', 60e3],
  ['s', 1e3],
];

/** "3 min ago", "in 2 h", "just now". */
export function relative(iso, now = Date.now()) {
  const diff = Date.parse(iso) - now;
  const abs = Math.abs(diff);
  if (abs < 1500) return 'just now';
  for (const [unit, ms] of UNITS) {
    if (abs >= ms) {
      const n = Math.floor(abs / ms);
      const label = unit === 'year' || unit === 'month' || unit === 'day' ? `${n} ${unit}${n === 1 ? '' : 's'}` : `${n} ${unit}`;
      return diff < 0 ? `${label} ago` : `in ${label}`;
    }
  }
  return 'just now';
}

/** A <time> showing the relative time, the ISO time in its datetime and title. */
export function time(iso, testid) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso, testid, dataset: { relative: '' } }, relative(iso));
}

/** Refreshes every relative <time> on the page (called by a timer, so "just now" ages without a reload). */
export function tickTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time[data-relative]')) el.textContent = relative(el.getAttribute('datetime'), now);
}

/** "1.25 s", "340 ms", "2 min 5 s". */
export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60e3) return `${(ms / 1000).toFixed(ms < 10e3 ? 2 : 1)} s`;
  if (ms < 3600e3) return `${Math.floor(ms / 60e3)} min ${Math.round((ms % 60e3) / 1000)} s`;
  return `${Math.floor(ms / 3600e3)} h ${Math.round((ms % 3600e3) / 60e3)} min`;
}

/** An id in monospace with a button that copies it (navigator.clipboard; else the text is selected for Ctrl+C). */
export function copyable(text, { label = 'id', short = false, testid } = {}) {
  const value = h('code', { class: 'id', title: text, testid }, short ? shortId(text) : text);
  return h('span', { class: 'copyable' }, value, copyButton(text, label, value));
}

/**
 * A button that copies `text`. Without a clipboard (plain http on another host) it writes the full text
 * into `target` and selects it, ready for Ctrl+C.
 */
export function copyButton(text, label, target) {
  const button = h(
    'button',
    {
      type: 'button',
      class: 'copy',
      'aria-label': `Copy ${label} ${text}`,
      title: `Copy ${label}`,
      onclick: async () => {
        if (await writeClipboard(text)) return flash(button, 'Copied');
        target.textContent = text;
        const range = document.createRange();
        range.selectNodeContents(target);
        const selection = getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        flash(button, 'Selected: press Ctrl+C');
      },
    },
    copyIcon(),
  );
  return button;
}

/** Two overlapping sheets (an inline SVG: no icon font, no request). */
function copyIcon() {
  return h(
    'svg:svg',
    { viewBox: '0 0 16 16', 'aria-hidden': 'true', focusable: 'false' },
    h('svg:rect', { x: 5, y: 5, width: 9, height: 9, rx: 1.5, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }),
    h('svg:path', { d: 'M11 3.5V3a1 1 0 0 0-1-1H3a1 1 0 0 0-1 1v7a1 1 0 0 0 1 1h.5', fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }),
  );
}

async function writeClipboard(text) {
  try {
    if (!navigator.clipboard) return false;
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

function flash(button, message) {
  button.dataset.flash = message;
  setTimeout(() => delete button.dataset.flash, 1500);
}

/** The first 8 characters of a UUID. */
export function shortId(id) {
  return id.length > 12 ? id.slice(0, 8) : id;
}

/** Pretty JSON in a <pre>; strings longer than the limit are cut with a note. */
export function json(value, testid) {
  let text;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  return h('pre', { class: 'json', testid, tabindex: '0' }, text);
}

export function statusBadge(status, testid = 'status') {
  return h('span', { class: `badge status-${status.toLowerCase()}`, testid }, status);
}

export function runLink(runId, { short = true, copy = false } = {}) {
  const code = h('code', {}, short ? shortId(runId) : runId);
  const link = h('a', { href: `#/runs/${encodeURIComponent(runId)}`, class: 'run-link', title: runId }, code);
  return copy ? h('span', { class: 'copyable' }, link, copyButton(runId, 'run id', code)) : link;
}

/** A section with a heading. */
export function section(title, testid, ...children) {
  return h('section', { class: 'panel', testid, 'aria-label': title }, h('h2', {}, title), ...children);
}

/** A loading/empty/error line. */
export function note(text, kind = 'muted', testid) {
  return h('p', { class: `note ${kind}`, testid, role: kind === 'error' ? 'alert' : undefined }, text);
}
