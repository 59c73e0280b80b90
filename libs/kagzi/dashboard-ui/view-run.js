// #/runs/<id>: what a run is and was: status and actions, error with its cause chain, the step timeline,
// input and output, signals, the runs it is linked to, and the history of its retries.
import { actionButton, notify, session } from './actions.js';
import { api } from './api.js';
import { copyable, h, json, mount, note, runLink, section, statusBadge, time } from './dom.js';
import { errorBlock, errorLine } from './errors.js';
import { renderTimeline } from './timeline.js';

const LIVE = new Set(['PENDING', 'RUNNING', 'SLEEPING', 'WAITING']);
const RETRYABLE = new Set(['FAILED', 'CANCELLED']);

export async function runView(main, { args: [runId] }, ctx) {
  document.title = `Run ${runId.slice(0, 8)} · Kagzi`;
  const open = new Set(); // timeline rows the user expanded
  let last = '';
  let live = false;
  const liveToggle = ctx.live(() => (live ? load({ quiet: true }) : undefined));

  async function load({ quiet = false } = {}) {
    let run;
    try {
      run = await api.run(runId);
    } catch (err) {
      if (!ctx.active) return;
      if (err.status === 404) {
        mount(main, h('h1', {}, 'Run not found'), note(`No run ${runId}.`, 'error', 'run-missing'), h('p', {}, h('a', { href: '#/runs' }, 'Back to runs')));
      } else if (quiet) {
        notify(`Refresh failed: ${err.describe?.() ?? String(err)}`, 'error');
      } else {
        mount(main, h('h1', {}, `Run ${runId}`), note(`The run could not be loaded: ${err.describe?.() ?? String(err)}`, 'error', 'run-error'));
      }
      return;
    }
    if (!ctx.active) return;
    const text = JSON.stringify(run);
    // a live run keeps its bars growing; an ended one that did not change is left alone (focus, selection)
    if (text === last && !LIVE.has(run.status)) return;
    last = text;
    render(run);
  }

  function render(run) {
    const focusKey = document.activeElement?.closest?.('[data-focus-key]')?.dataset.focusKey;
    live = LIVE.has(run.status);
    mount(
      main,
      h(
        'div',
        { class: 'page-head' },
        h('h1', {}, h('span', { class: 'muted' }, 'Run '), h('span', { testid: 'run-workflow' }, run.workflowName), h('span', { class: 'muted' }, ` v${run.version} `), statusBadge(run.status, 'run-status')),
        live ? liveToggle : null,
      ),
      h(
        'dl',
        { class: 'facts run-facts', testid: 'run-facts' },
        fact('run id', copyable(run.runId, { label: 'run id', testid: 'run-id' })),
        run.idempotencyKey !== undefined ? fact('idempotency key', copyable(run.idempotencyKey, { label: 'idempotency key', testid: 'run-key' })) : null,
        fact('created', time(run.createdAt)),
        fact('updated', time(run.updatedAt)),
        run.completedAt ? fact('completed', time(run.completedAt)) : null,
        run.cancelRequestedAt ? fact('cancel requested', time(run.cancelRequestedAt, 'cancel-requested')) : null,
        run.cancelReason ? fact('cancel reason', h('span', { testid: 'cancel-reason' }, run.cancelReason)) : null,
      ),
      actions(run),
      run.error ? section('Error', 'run-error-section', errorBlock(run.error)) : null,
      section('Timeline', 'timeline-section', renderTimeline(run, open)),
      h(
        'div',
        { class: 'columns' },
        section('Input', 'input-section', json(run.input, 'run-input')),
        section('Output', 'output-section', run.output === undefined ? note(outputNote(run.status)) : json(run.output, 'run-output')),
      ),
      links(run),
      signals(run),
      retries(run),
    );
    if (focusKey) main.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  function actions(run) {
    const live = LIVE.has(run.status);
    const done = (text) => () => {
      notify(text);
      void load();
    };
    const buttons = [
      live
        ? actionButton({
            label: 'Cancel',
            testid: 'action-cancel',
            danger: true,
            title: `Cancel run ${run.runId.slice(0, 8)}?`,
            message: `The run's code gets a WorkflowCancelledError at its next step boundary; its cleanup still runs. This cannot be undone.`,
            fields: [{ name: 'reason', label: 'Reason (optional)', placeholder: 'why it is cancelled' }],
            confirmLabel: 'Cancel run',
            run: ({ reason }) => api.cancel(run.runId, reason.trim() || undefined),
            done: done('Cancel requested.'),
          })
        : null,
      RETRYABLE.has(run.status)
        ? actionButton({
            label: 'Retry',
            testid: 'action-retry',
            title: `Retry run ${run.runId.slice(0, 8)}?`,
            message: 'The run starts again from its first step that did not complete; completed steps are replayed from their stored results.',
            confirmLabel: 'Retry run',
            run: () => api.retry(run.runId),
            done: done('Retry started.'),
          })
        : null,
      live
        ? actionButton({
            label: 'Send signal',
            testid: 'action-signal',
            title: `Send a signal to run ${run.runId.slice(0, 8)}`,
            fields: [
              { name: 'name', label: 'Signal name', required: true, placeholder: 'payment-confirmed' },
              {
                name: 'payload',
                label: 'Payload (JSON, optional)',
                type: 'textarea',
                placeholder: '{ "method": "card" }',
                validate: (raw) => {
                  if (!raw.trim()) return undefined;
                  try {
                    JSON.parse(raw);
                    return undefined;
                  } catch (err) {
                    return `The payload is not valid JSON: ${err instanceof Error ? err.message : String(err)}`;
                  }
                },
              },
            ],
            confirmLabel: 'Send',
            run: ({ name, payload }) => api.signal(run.runId, name.trim(), payload.trim() ? JSON.parse(payload) : undefined),
            done: done('Signal sent.'),
          })
        : null,
    ].filter(Boolean);
    if (!buttons.length) return null;
    return h('div', { class: 'actions', testid: 'run-actions' }, buttons, h('span', { class: 'muted' }, actionsNote(run)));
  }

  await load();
}

function outputNote(status) {
  if (status === 'COMPLETED') return 'The run returned nothing (undefined).';
  if (status === 'FAILED' || status === 'CANCELLED') return `No output: the run is ${status.toLowerCase()}.`;
  return 'No output yet.';
}

function actionsNote(run) {
  if (session.readOnly) return 'read-only: this dashboard cannot change runs.';
  if (run.cancelRequestedAt && LIVE.has(run.status)) return 'A cancel was requested; the run ends when its code has handled it.';
  return '';
}

function fact(label, value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

function links(run) {
  const items = [];
  if (run.parentRunId) items.push(fact('parent', runLink(run.parentRunId, { short: false })));
  if (run.continuedFrom) items.push(fact('continued from', runLink(run.continuedFrom, { short: false })));
  if (run.continuedAs) items.push(fact('continued as', runLink(run.continuedAs, { short: false })));
  const children = run.children ?? [];
  if (!items.length && !children.length) return null;
  return section(
    'Related runs',
    'links-section',
    items.length ? h('dl', { class: 'facts' }, items) : null,
    children.length
      ? h(
          'table',
          { class: 'compact', testid: 'children' },
          h('caption', {}, `Children (${children.length})`),
          h('thead', {}, h('tr', {}, ['Run', 'Workflow', 'Status', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
          h(
            'tbody',
            {},
            children.map((c) =>
              h('tr', { testid: 'child' }, h('td', {}, runLink(c.runId)), h('td', {}, `${c.workflowName} v${c.version}`), h('td', {}, statusBadge(c.status)), h('td', {}, time(c.createdAt))),
            ),
          ),
        )
      : null,
  );
}

function signals(run) {
  const list = run.signals ?? [];
  if (!list.length) return null;
  return section(
    `Signals (${list.length})`,
    'signals-section',
    h(
      'table',
      { class: 'compact' },
      h('thead', {}, h('tr', {}, ['Name', 'Payload', 'Sent', 'Consumed'].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        list.map((s) =>
          h(
            'tr',
            { testid: 'signal' },
            h('td', {}, s.name.startsWith('$child:') ? ['result of child ', runLink(s.name.slice(7))] : h('code', {}, s.name)),
            h('td', {}, json(s.payload)),
            h('td', {}, time(s.sentAt)),
            h('td', {}, s.consumedAt ? time(s.consumedAt) : h('span', { class: 'muted' }, 'not yet')),
          ),
        ),
      ),
    ),
  );
}

function retries(run) {
  const list = run.retries ?? [];
  if (!list.length) return null;
  return section(
    `Retries (${list.length})`,
    'retries-section',
    h(
      'ol',
      { class: 'retries' },
      list.map((r) =>
        h(
          'li',
          { testid: 'retry' },
          time(r.at),
          ' retried a ',
          statusBadge(r.previousStatus, 'retry-previous-status'),
          ' run',
          r.previousError ? h('details', {}, h('summary', {}, errorLine(r.previousError)), errorBlock(r.previousError, { testid: 'retry-error' })) : null,
        ),
      ),
    ),
  );
}
