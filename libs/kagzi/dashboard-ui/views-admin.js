// #/workflows (versions, runs in flight, default, set default / deprecate), #/workers, #/schedules.
import { actionButton, notify, session } from './actions.js';
import { api } from './api.js';
import { h, mount, note, relative, runLink, statusBadge, time } from './dom.js';

const IN_FLIGHT = ['PENDING', 'RUNNING', 'SLEEPING', 'WAITING'];

/** Loads with `fetch`, renders with `draw`, and again on every live refresh (errors shown in place). */
async function listView(main, ctx, { title, testid, intro, fetch, draw }) {
  document.title = `${title} · Kagzi`;
  const body = h('div', { testid }, note('Loading…'));
  const refresh = async (quiet) => {
    try {
      const data = await fetch();
      if (!ctx.active) return;
      const focusKey = document.activeElement?.closest?.('[data-focus-key]')?.dataset.focusKey;
      mount(body, draw(data, () => refresh(true)));
      if (focusKey) body.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
    } catch (err) {
      if (!ctx.active) return;
      if (quiet) notify(`Refresh failed: ${err.describe?.() ?? String(err)}`, 'error');
      else mount(body, note(`${title} could not be loaded: ${err.describe?.() ?? String(err)}`, 'error', `${testid}-error`));
    }
  };
  mount(main, h('div', { class: 'page-head' }, h('h1', {}, title), ctx.live(() => refresh(true))), intro ? h('p', { class: 'muted intro' }, intro) : null, body);
  await refresh(false);
}

export function workflowsView(main, _route, ctx) {
  return listView(main, ctx, {
    title: 'Workflows',
    testid: 'workflows',
    intro: 'Registered versions, the runs each has in flight, and which one start() uses by default.',
    fetch: () => api.workflows(),
    draw: (workflows, reload) =>
      workflows.length
        ? [session.readOnly ? note('read-only: versions cannot be changed from this dashboard.', 'muted', 'read-only-note') : null, workflows.map((w) => workflowCard(w, reload))]
        : note('No workflow has been registered yet: start a worker that serves one.', 'muted', 'workflows-empty'),
  });
}

function workflowCard(workflow, reload) {
  return h(
    'section',
    { class: 'panel', testid: 'workflow', dataset: { name: workflow.name }, 'aria-label': `Workflow ${workflow.name}` },
    h('h2', {}, workflow.name, ' ', h('a', { class: 'small', href: `#/runs?workflow=${encodeURIComponent(workflow.name)}` }, 'runs →')),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'versions' },
        h('caption', { class: 'sr-only' }, `Versions of ${workflow.name}`),
        h(
          'thead',
          {},
          h('tr', {}, ['Version', 'State', ...IN_FLIGHT.map((s) => s.toLowerCase()), 'Served', 'Registered', 'Last seen', 'Actions'].map((c) => h('th', { scope: 'col' }, c))),
        ),
        h(
          'tbody',
          {},
          workflow.versions.map((v) =>
            h(
              'tr',
              { testid: 'version', dataset: { version: String(v.version), default: String(v.isDefault) }, class: v.deprecated ? 'deprecated' : '' },
              h('th', { scope: 'row', 'data-label': 'Version' }, `v${v.version}`),
              h(
                'td',
                { 'data-label': 'State' },
                v.isDefault ? h('span', { class: 'badge default', testid: 'default-badge' }, 'default') : null,
                v.deprecated ? h('span', { class: 'badge deprecated', testid: 'deprecated-badge', title: v.deprecatedAt ? `deprecated ${v.deprecatedAt}` : undefined }, 'deprecated') : null,
              ),
              IN_FLIGHT.map((s) =>
                h(
                  'td',
                  { 'data-label': s.toLowerCase(), class: 'num' },
                  v.runs?.[s] ? h('a', { href: `#/runs?workflow=${encodeURIComponent(v.name)}&status=${s}`, testid: `runs-${s}` }, String(v.runs[s])) : h('span', { class: 'muted' }, '0'),
                ),
              ),
              h('td', { 'data-label': 'Served' }, v.served ? 'yes' : h('span', { class: IN_FLIGHT.some((s) => v.runs?.[s]) ? 'warn' : 'muted', title: 'no live worker serves this version' }, 'no')),
              h('td', { 'data-label': 'Registered' }, time(v.registeredAt)),
              h('td', { 'data-label': 'Last seen' }, time(v.lastSeenAt)),
              h(
                    'td',
                    { 'data-label': 'Actions', class: 'row-actions' },
                    v.isDefault
                      ? null
                      : actionButton({
                          label: 'Set default',
                          testid: `set-default-${v.version}`,
                          title: `Make v${v.version} the default of ${v.name}?`,
                          message: `New runs started without a version use v${v.version}. Runs in flight stay on their version.`,
                          confirmLabel: `Make v${v.version} default`,
                          run: () => api.setDefault(v.name, v.version),
                          done: () => {
                            notify(`${v.name}: v${v.version} is the default now.`);
                            void reload();
                          },
                        }),
                    v.deprecated
                      ? null
                      : actionButton({
                          label: 'Deprecate',
                          testid: `deprecate-${v.version}`,
                          danger: true,
                          title: `Deprecate ${v.name} v${v.version}?`,
                          message: 'Deprecated versions stay served for the runs they have, but are marked for removal.',
                          confirmLabel: 'Deprecate',
                          run: () => api.deprecate(v.name, v.version),
                          done: () => {
                            notify(`${v.name} v${v.version} is deprecated.`);
                            void reload();
                          },
                        }),
                  ),
            ),
          ),
        ),
      ),
    ),
  );
}

export function workersView(main, _route, ctx) {
  return listView(main, ctx, {
    title: 'Workers',
    testid: 'workers',
    intro: 'Processes polling for runs. LOST: stopped heartbeating; its runs are taken over when their leases expire.',
    fetch: () => api.workers(),
    draw: (workers) =>
      workers.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'workers' },
              h('caption', { class: 'sr-only' }, 'Workers'),
              h('thead', {}, h('tr', {}, ['Worker', 'Status', 'Heartbeat', 'Active / concurrency', 'Serves', 'Started'].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                {},
                workers.map((w) =>
                  h(
                    'tr',
                    { testid: 'worker', dataset: { status: w.status }, class: `worker-${w.status.toLowerCase()}` },
                    h('th', { scope: 'row', 'data-label': 'Worker' }, h('code', {}, w.name), h('div', { class: 'muted small' }, `${w.hostname} · pid ${w.pid}`)),
                    h('td', { 'data-label': 'Status' }, statusBadge(w.status, 'worker-status')),
                    h('td', { 'data-label': 'Heartbeat' }, h('time', { datetime: w.lastHeartbeatAt, title: w.lastHeartbeatAt, dataset: { relative: '' } }, relative(w.lastHeartbeatAt))),
                    h(
                      'td',
                      { 'data-label': 'Active / concurrency' },
                      h('meter', { min: 0, max: Math.max(1, w.concurrency), value: w.activeRuns, 'aria-label': `${w.activeRuns} of ${w.concurrency} slots busy` }),
                      ` ${w.activeRuns} / ${w.concurrency}`,
                    ),
                    h('td', { 'data-label': 'Serves' }, h('ul', { class: 'tags' }, w.workflows.map((ref) => h('li', {}, h('code', {}, ref))))),
                    h('td', { 'data-label': 'Started' }, time(w.startedAt)),
                  ),
                ),
              ),
            ),
          )
        : note('No worker has registered.', 'muted', 'workers-empty'),
  });
}

export function schedulesView(main, _route, ctx) {
  return listView(main, ctx, {
    title: 'Schedules',
    testid: 'schedules',
    intro: 'Cron schedules declared with @Workflow({ schedule }). A tick is skipped while the previous run is still in flight.',
    fetch: () => api.schedules(),
    draw: (schedules) =>
      schedules.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'schedules' },
              h('caption', { class: 'sr-only' }, 'Schedules'),
              h('thead', {}, h('tr', {}, ['Workflow', 'Cron', 'Time zone', 'Next run', 'Last run', 'Skipped'].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                {},
                schedules.map((s) =>
                  h(
                    'tr',
                    { testid: 'schedule' },
                    h('th', { scope: 'row', 'data-label': 'Workflow' }, h('a', { href: `#/runs?workflow=${encodeURIComponent(s.workflowName)}` }, s.workflowName), h('span', { class: 'muted' }, ` v${s.version}`)),
                    h('td', { 'data-label': 'Cron' }, h('code', {}, s.cron)),
                    h('td', { 'data-label': 'Time zone' }, s.timezone),
                    h('td', { 'data-label': 'Next run' }, time(s.nextRunAt)),
                    h('td', { 'data-label': 'Last run' }, s.lastRunAt ? time(s.lastRunAt) : h('span', { class: 'muted' }, 'never'), s.lastRunId ? [' ', runLink(s.lastRunId)] : null),
                    h('td', { 'data-label': 'Skipped', class: 'num' }, String(s.skipped)),
                  ),
                ),
              ),
            ),
          )
        : note('No workflow declares a schedule.', 'muted', 'schedules-empty'),
  });
}
