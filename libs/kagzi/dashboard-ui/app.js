// The dashboard's entry point: reads GET api/info, then routes #/runs, #/runs/<id>, #/workflows, #/workers,
// #/schedules to their views. Each view gets a context whose live refresh stops when the route changes.
import { dialogOpen, notify, session } from './actions.js';
import { api } from './api.js';
import { h, mount, note, tickTimes } from './dom.js';
import { schedulesView, workersView, workflowsView } from './views-admin.js';
import { runView } from './view-run.js';
import { runsView } from './views-runs.js';

/** How often the live views poll, in ms (the API is cheap: one indexed statement per call). */
export const LIVE_INTERVAL = 2500;
const LIVE_PREF = 'kagzi.dashboard.live';

const ROUTES = [
  { pattern: /^\/runs\/([^/?]+)$/, view: runView, nav: 'runs' },
  { pattern: /^\/runs$/, view: runsView, nav: 'runs' },
  { pattern: /^\/workflows$/, view: workflowsView, nav: 'workflows' },
  { pattern: /^\/workers$/, view: workersView, nav: 'workers' },
  { pattern: /^\/schedules$/, view: schedulesView, nav: 'schedules' },
];

let current; // the running view's context
let navigated = false; // after the first route, a route change moves focus to the new heading

/** The live-refresh preference, kept in localStorage when the browser allows it. */
function preference(value) {
  try {
    if (value === undefined) return localStorage.getItem(LIVE_PREF);
    localStorage.setItem(LIVE_PREF, value);
  } catch {
    // storage disabled: the toggle still works for this page
  }
  return value;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/runs';
  const [path, search = ''] = raw.split('?');
  return { path, params: new URLSearchParams(search) };
}

/** A view's context: whether it is still on screen, and a live-refresh toggle bound to it. */
function viewContext() {
  const ctx = {
    active: true,
    timers: [],
    /**
     * A "Live refresh" checkbox; while checked (remembered across pages), `refresh` runs every LIVE_INTERVAL
     * unless the tab is hidden, a dialog is open, or the previous refresh is still running.
     */
    live(refresh, { testid = 'live-toggle' } = {}) {
      let busy = false;
      const input = h('input', { type: 'checkbox', id: `${testid}-input`, testid, dataset: { focusKey: testid }, checked: preference() !== 'off' });
      const timer = setInterval(async () => {
        if (!ctx.active || !input.checked || busy || document.hidden || dialogOpen()) return;
        busy = true;
        try {
          await refresh();
        } finally {
          busy = false;
        }
      }, LIVE_INTERVAL);
      ctx.timers.push(timer);
      input.addEventListener('change', () => preference(input.checked ? 'on' : 'off'));
      return h('span', { class: 'live' }, input, h('label', { for: `${testid}-input` }, 'Live refresh'));
    },
    stop() {
      ctx.active = false;
      ctx.timers.forEach(clearInterval);
    },
  };
  return ctx;
}

async function route() {
  const { path, params } = parseHash();
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  current?.stop();
  document.getElementById('notice').hidden = true; // a notice belongs to the page it was shown on
  const main = document.getElementById('main');
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.nav === match?.r.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!match) {
    mount(main, h('h1', {}, 'Not found'), note(`Nothing at #${path}.`, 'error'), h('p', {}, h('a', { href: '#/runs' }, 'Back to runs')));
    return;
  }
  const ctx = (current = viewContext());
  const args = match.m.slice(1).map(decodeURIComponent);
  try {
    await match.r.view(main, { args, params }, ctx);
  } catch (err) {
    if (ctx.active) mount(main, h('h1', {}, 'Something went wrong'), note(err instanceof Error ? err.message : String(err), 'error', 'view-error'));
  }
  const heading = main.querySelector('h1');
  if (ctx.active && navigated && heading) {
    // move focus to the new page's heading, so keyboard and screen-reader users start there
    heading.tabIndex = -1;
    heading.focus();
  }
  navigated = true;
}

function shell() {
  const navLink = (nav, text) => h('a', { href: `#/${nav}`, dataset: { nav }, testid: `nav-${nav}` }, text);
  const skip = h('a', { class: 'skip', href: '#main', onclick: (e) => (e.preventDefault(), document.getElementById('main').focus()) }, 'Skip to content');
  const header = h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/runs', 'aria-label': 'Kagzi dashboard home' }, 'Kagzi'),
    h('nav', { 'aria-label': 'Main' }, navLink('runs', 'Runs'), navLink('workflows', 'Workflows'), navLink('workers', 'Workers'), navLink('schedules', 'Schedules')),
    h('span', { class: 'server', id: 'server-info' }),
  );
  const notice = h('div', { id: 'notice', class: 'notice', role: 'status', 'aria-live': 'polite', testid: 'notice', hidden: true });
  const main = h('main', { id: 'main', tabindex: '-1' });
  mount(document.getElementById('app'), skip, header, notice, main);
}

async function start() {
  shell();
  try {
    Object.assign(session, await api.info());
  } catch (err) {
    mount(document.getElementById('main'), h('h1', {}, 'Kagzi dashboard'), note(`The dashboard API did not answer: ${err.describe ? err.describe() : String(err)}`, 'error', 'info-error'));
    return;
  }
  mount(
    document.getElementById('server-info'),
    session.readOnly ? h('span', { class: 'badge read-only', testid: 'read-only', title: 'This dashboard is mounted read-only: actions are refused' }, 'read-only') : null,
    h('span', { class: 'muted' }, `v${session.version}`),
  );
  window.addEventListener('hashchange', () => void route());
  setInterval(() => tickTimes(), 5000);
  document.addEventListener('visibilitychange', () => !document.hidden && tickTimes());
  await route();
}

window.addEventListener('error', (event) => notify(`Unexpected error: ${event.message}`, 'error'));
void start();
