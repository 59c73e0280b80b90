// #/runs: the stats strip (runs per status, backlog), filters (workflow, statuses, run id or idempotency key),
// the newest runs first with "Load more" paging, and a live refresh that keeps what is loaded.
import { notify } from './actions.js';
import { api } from './api.js';
import { h, mount, note, relative, runLink, statusBadge, tickTimes, time } from './dom.js';

export const STATUSES = ['PENDING', 'RUNNING', 'SLEEPING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED'];
const PAGE = 50;
const MAX_LIMIT = 200;

export async function runsView(main, { params }, ctx) {
  document.title = 'Runs · Kagzi';
  const filter = {
    workflow: params.get('workflow') ?? '',
    status: (params.get('status') ?? '').split(',').filter((s) => STATUSES.includes(s)),
    q: params.get('q') ?? '',
  };
  const state = { items: [], nextCursor: undefined, rows: new Map() };

  const stats = h('section', { class: 'stats', testid: 'stats', 'aria-label': 'Runs by status' }, note('Loading counts…'));
  const tbody = h('tbody', { testid: 'runs-body' });
  const table = h(
    'table',
    { class: 'runs', testid: 'runs-table' },
    h('caption', { class: 'sr-only' }, 'Runs, newest first'),
    h(
      'thead',
      {},
      h('tr', {}, ['Run', 'Workflow', 'Status', 'Idempotency key', 'Created', 'Updated'].map((c) => h('th', { scope: 'col' }, c))),
    ),
    tbody,
  );
  const empty = note('No runs match these filters.', 'muted', 'runs-empty');
  empty.hidden = true;
  const failure = h('div', { role: 'alert' });
  const more = h('button', { type: 'button', class: 'action', testid: 'load-more', hidden: true, onclick: () => void loadMore() }, 'Load more');
  const count = h('span', { class: 'muted', testid: 'runs-count', 'aria-live': 'polite' });

  // --- filters --------------------------------------------------------------------------------------
  const workflowSelect = h('select', { id: 'filter-workflow', testid: 'filter-workflow', onchange: () => apply() }, h('option', { value: '' }, 'All workflows'));
  if (filter.workflow) workflowSelect.append(h('option', { value: filter.workflow, selected: true }, filter.workflow));
  const statusBoxes = STATUSES.map((status) =>
    h(
      'label',
      { class: `chip status-${status.toLowerCase()}` },
      h('input', { type: 'checkbox', value: status, testid: `filter-status-${status}`, checked: filter.status.includes(status), onchange: () => apply() }),
      status,
    ),
  );
  const search = h('input', {
    id: 'filter-q',
    type: 'search',
    testid: 'filter-q',
    value: filter.q,
    placeholder: 'run id or idempotency key',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter runs', onsubmit: (e) => (e.preventDefault(), apply()) },
    h('div', { class: 'field' }, h('label', { for: 'filter-workflow' }, 'Workflow'), workflowSelect),
    h('fieldset', { class: 'field statuses' }, h('legend', {}, 'Status'), statusBoxes),
    h(
      'div',
      { class: 'field search' },
      h('label', { for: 'filter-q' }, 'Search'),
      h('div', { class: 'inline' }, search, h('button', { type: 'submit', class: 'action primary', testid: 'filter-apply' }, 'Search'), h('button', { type: 'button', class: 'action', testid: 'filter-clear', onclick: () => clear() }, 'Clear')),
    ),
  );

  mount(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Runs'), ctx.live(() => refresh())),
    stats,
    form,
    failure,
    h('div', { class: 'table-wrap' }, table),
    empty,
    h('div', { class: 'pager' }, count, more),
  );

  function apply() {
    filter.workflow = workflowSelect.value;
    filter.status = statusBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    filter.q = search.value.trim();
    const query = new URLSearchParams();
    if (filter.workflow) query.set('workflow', filter.workflow);
    if (filter.status.length) query.set('status', filter.status.join(','));
    if (filter.q) query.set('q', filter.q);
    const text = query.toString();
    // keep the filters in the address (shareable, survive a reload) without re-rendering the page
    history.replaceState(null, '', `#/runs${text ? `?${text}` : ''}`);
    void load();
  }

  function clear() {
    workflowSelect.value = '';
    for (const l of statusBoxes) l.querySelector('input').checked = false;
    search.value = '';
    apply();
  }

  async function load() {
    const asked = JSON.stringify(filter);
    try {
      const page = await api.runs({ ...filter, limit: PAGE });
      if (!ctx.active || asked !== JSON.stringify(filter)) return;
      state.items = page.items;
      state.nextCursor = page.nextCursor;
      render();
      mount(failure);
    } catch (err) {
      if (ctx.active) mount(failure, note(`Runs could not be loaded: ${err.describe?.() ?? String(err)}`, 'error', 'runs-error'));
    }
  }

  async function loadMore() {
    if (!state.nextCursor) return;
    more.disabled = true;
    try {
      const page = await api.runs({ ...filter, cursor: state.nextCursor, limit: PAGE });
      if (!ctx.active) return;
      const seen = new Set(state.items.map((r) => r.runId));
      state.items.push(...page.items.filter((r) => !seen.has(r.runId)));
      state.nextCursor = page.nextCursor;
      render();
    } catch (err) {
      notify(`More runs could not be loaded: ${err.describe?.() ?? String(err)}`, 'error');
    } finally {
      more.disabled = false;
    }
  }

  /** Re-reads what is on screen (up to 200 rows) so new runs appear on top and statuses move. */
  async function refresh() {
    const asked = JSON.stringify(filter);
    const limit = Math.min(MAX_LIMIT, Math.max(PAGE, state.items.length));
    const [page] = await Promise.all([api.runs({ ...filter, limit }).catch(() => undefined), loadStats()]);
    if (!page || !ctx.active || asked !== JSON.stringify(filter)) return;
    const fresh = new Set(page.items.map((r) => r.runId));
    const rest = state.items.length > limit ? state.items.slice(limit).filter((r) => !fresh.has(r.runId)) : [];
    state.items = [...page.items, ...rest];
    if (!rest.length) state.nextCursor = page.nextCursor;
    render();
  }

  function render() {
    const rows = state.items.map((run) => rowFor(run));
    // move only what changed, so a focused link keeps its focus across live refreshes
    rows.forEach((row, i) => {
      if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] ?? null);
    });
    while (tbody.children.length > rows.length) tbody.lastElementChild.remove();
    tickTimes(tbody); // rows kept from earlier renders say "just now" no longer
    empty.hidden = state.items.length > 0;
    table.hidden = state.items.length === 0;
    more.hidden = !state.nextCursor;
    count.textContent = `${state.items.length} run${state.items.length === 1 ? '' : 's'} shown${state.nextCursor ? ', more below' : ''}`;
  }

  function rowFor(run) {
    const signature = `${run.status}|${run.updatedAt}`;
    const known = state.rows.get(run.runId);
    if (known && known.signature === signature) return known.row;
    const row = h(
      'tr',
      { testid: 'run-row', dataset: { runId: run.runId, status: run.status } },
      h('td', { 'data-label': 'Run' }, runLink(run.runId, { copy: true })),
      h('td', { 'data-label': 'Workflow' }, h('a', { href: `#/runs?workflow=${encodeURIComponent(run.workflowName)}`, class: 'plain' }, run.workflowName), h('span', { class: 'muted' }, ` v${run.version}`)),
      h('td', { 'data-label': 'Status' }, statusBadge(run.status)),
      h('td', { 'data-label': 'Idempotency key' }, run.idempotencyKey ? h('code', { class: 'key' }, run.idempotencyKey) : h('span', { class: 'muted' }, '—')),
      h('td', { 'data-label': 'Created' }, time(run.createdAt)),
      h('td', { 'data-label': 'Updated' }, time(run.completedAt ?? run.updatedAt)),
    );
    state.rows.set(run.runId, { signature, row });
    return row;
  }

  async function loadStats() {
    try {
      const s = await api.stats();
      if (!ctx.active) return;
      mount(
        stats,
        STATUSES.map((status) =>
          h(
            'a',
            { class: `stat status-${status.toLowerCase()}`, href: `#/runs?status=${status}`, testid: `stat-${status}` },
            h('span', { class: 'stat-value' }, String(s.byStatus?.[status] ?? 0)),
            h('span', { class: 'stat-label' }, status.toLowerCase()),
          ),
        ),
        h(
          'div',
          { class: 'stat backlog', testid: 'stat-backlog', title: s.oldestDueAt ? `oldest due ${s.oldestDueAt}` : 'nothing due' },
          h('span', { class: 'stat-value' }, String(s.backlog ?? 0)),
          h('span', { class: 'stat-label' }, s.oldestDueAt ? `backlog · oldest ${relative(s.oldestDueAt).replace(' ago', '')}` : 'backlog'),
        ),
      );
    } catch (err) {
      if (ctx.active) mount(stats, note(`Counts unavailable: ${err.describe?.() ?? String(err)}`, 'error'));
    }
  }

  async function loadWorkflowNames() {
    try {
      const workflows = await api.workflows();
      if (!ctx.active) return;
      const names = new Set(workflows.map((w) => w.name));
      if (filter.workflow) names.add(filter.workflow);
      mount(
        workflowSelect,
        h('option', { value: '' }, 'All workflows'),
        [...names].sort().map((name) => h('option', { value: name, selected: name === filter.workflow }, name)),
      );
    } catch {
      // the filter still works with the workflow from the address
    }
  }

  await Promise.all([load(), loadStats(), loadWorkflowNames()]);
}
