// The step timeline: one row per recorded step on a shared time axis. Steps of a ctx.parallel / ctx.race
// group sit in lanes (one per branch) under the group; attempts are bars, the back-off between two
// attempts a hatched gap, sleeps and waits bars of their own style. Each row expands to its attempts.
import { duration, h, json, mount, runLink, time } from './dom.js';
import { errorBlock } from './errors.js';

/** Rows rendered at once; a bigger run gets a button for the rest. */
const FIRST_ROWS = 2000;

/**
 * The run's steps arranged as a tree: the main path, and for each group its lanes.
 * A group hangs in the lane its key starts with (`$parallel#1[0]/$race#1` is in lane `$parallel#1[0]`).
 */
export function layout(run, now = Date.now()) {
  const origin = Date.parse(run.createdAt);
  const groups = new Map();
  const root = { items: [] };
  const group = (key) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { type: 'group', key, lanes: new Map(), marker: undefined, start: Infinity, end: -Infinity }));
    return g;
  };
  const lane = (g, key) => {
    let l = g.lanes.get(key);
    if (!l) g.lanes.set(key, (l = { key, items: [] }));
    return l;
  };
  let end = run.completedAt ? Date.parse(run.completedAt) : now;

  const rows = run.steps.map((step) => {
    // nothing is drawn past the run's end, or past now while it is live (a sleep of an hour would squash the rest)
    const spans = spansOf(step, run.completedAt ? Date.parse(run.completedAt) : now);
    const start = Math.min(Date.parse(step.startedAt), ...spans.map((s) => s.from));
    const stop = Math.max(start, ...spans.map((s) => s.to));
    end = Math.max(end, stop);
    return { type: 'step', step, spans, start, end: stop };
  });
  for (const row of rows) {
    // a GROUP row is a race's recorded decision, keyed like the group it decided
    if (row.step.kind === 'GROUP') group(row.step.key).marker = row;
    else if (row.step.group) lane(group(row.step.group), row.step.branch ?? row.step.group).items.push(row);
    else root.items.push(row);
  }
  // hang each group in its parent lane (or on the main path), innermost last
  for (const g of [...groups.values()].sort((a, b) => a.key.length - b.key.length)) {
    const parentLane = g.marker?.step.branch ?? parentLaneKey(g.key);
    const parentGroup = g.marker?.step.group ?? (parentLane ? groupOfLane(parentLane) : '');
    if (parentLane && groups.has(parentGroup)) lane(groups.get(parentGroup), parentLane).items.push(g);
    else root.items.push(g);
  }
  // spans of groups, innermost first so outer groups include them
  for (const g of [...groups.values()].sort((a, b) => b.key.length - a.key.length)) {
    for (const l of g.lanes.values()) {
      for (const item of l.items) {
        g.start = Math.min(g.start, item.start);
        g.end = Math.max(g.end, item.end);
      }
    }
    if (g.marker) {
      g.start = Math.min(g.start, g.marker.start);
      g.end = Math.max(g.end, g.marker.end);
    }
    if (g.start === Infinity) g.start = g.end = origin;
  }
  const byStart = (a, b) => a.start - b.start || keyOf(a).localeCompare(keyOf(b));
  root.items.sort(byStart);
  for (const g of groups.values()) {
    for (const l of g.lanes.values()) l.items.sort(byStart);
    g.lanes = new Map([...g.lanes.entries()].sort((a, b) => laneIndex(a[0]) - laneIndex(b[0]) || a[0].localeCompare(b[0])));
  }
  return { origin, span: Math.max(1, end - origin), root, groups, count: rows.length };
}

function keyOf(item) {
  return item.type === 'group' ? item.key : item.step.key;
}

/** `$parallel#1[0]/$race#1` → `$parallel#1[0]`; a top-level key → ''. Slashes inside brackets do not count. */
export function parentLaneKey(key) {
  let depth = 0;
  let cut = -1;
  for (let i = 0; i < key.length; i++) {
    if (key[i] === '[') depth++;
    else if (key[i] === ']') depth--;
    else if (key[i] === '/' && depth === 0) cut = i;
  }
  return cut < 0 ? '' : key.slice(0, cut);
}

/** `$parallel#1[0]` → `$parallel#1`. */
function groupOfLane(laneKey) {
  return laneKey.replace(/\[[^\]]*\]$/, '');
}

function laneIndex(laneKey) {
  const match = /\[(\d+)\]$/.exec(laneKey);
  return match ? Number(match[1]) : Number.MAX_SAFE_INTEGER;
}

/**
 * The time spans a step is drawn with: its attempts (ok, failed, running) with the back-off between
 * them, a sleep until its wake-up time, a wait until it was answered; markers have zero length.
 * `now` is where anything still going is drawn to: the present, or the end of an ended run.
 */
export function spansOf(step, now = Date.now()) {
  const started = Date.parse(step.startedAt);
  const completed = step.completedAt ? Date.parse(step.completedAt) : undefined;
  if (step.kind === 'SLEEP') {
    // the sleep is recorded when it starts, with its wake-up time as output: drawn to that time, or to now
    const wake = typeof step.output === 'string' && !Number.isNaN(Date.parse(step.output)) ? Date.parse(step.output) : undefined;
    const planned = Math.max(completed ?? started, wake ?? (step.status === 'RUNNING' ? now : started));
    const to = Math.max(started, Math.min(planned, now));
    const label = planned > to ? `sleeping until ${new Date(planned).toISOString()}` : `sleep ${duration(to - started)}`;
    return [{ type: planned > to ? 'sleep running' : 'sleep', from: started, to, label }];
  }
  if (step.kind === 'SIGNAL') {
    const to = Math.max(started, completed ?? (step.status === 'RUNNING' ? now : started));
    return [{ type: step.status === 'RUNNING' ? 'wait running' : 'wait', from: started, to, label: `waited ${duration(to - started)}` }];
  }
  if (step.kind !== 'STEP') return [{ type: 'marker', from: started, to: completed ?? started, label: step.kind.toLowerCase() }];
  const spans = [];
  const attempts = step.attempts.length ? step.attempts : [{ attempt: 1, runTry: 1, startedAt: step.startedAt, finishedAt: step.completedAt }];
  attempts.forEach((attempt, i) => {
    const from = Date.parse(attempt.startedAt);
    const running = !attempt.finishedAt;
    const to = running ? (step.status === 'RUNNING' ? now : from) : Date.parse(attempt.finishedAt);
    const previous = i > 0 ? attempts[i - 1] : undefined;
    if (previous?.finishedAt && Date.parse(previous.finishedAt) < from && previous.runTry === attempt.runTry) {
      const gap = from - Date.parse(previous.finishedAt);
      spans.push({ type: 'backoff', from: Date.parse(previous.finishedAt), to: from, label: `back-off ${duration(gap)} before attempt ${attempt.attempt}` });
    }
    const type = attempt.error ? 'failed' : running ? 'running' : 'ok';
    spans.push({ type: `attempt ${type}`, from, to, label: `attempt ${attempt.attempt}${attempt.runTry > 1 ? ` (try ${attempt.runTry})` : ''}: ${type === 'ok' ? 'ok' : type} ${duration(to - from)}` });
  });
  // a step waiting for its next attempt: the back-off still going
  const last = attempts[attempts.length - 1];
  if (step.status === 'RUNNING' && last?.finishedAt && last.error) {
    spans.push({ type: 'backoff running', from: Date.parse(last.finishedAt), to: Math.max(now, Date.parse(last.finishedAt)), label: 'back-off, next attempt pending' });
  }
  return spans;
}

/** A "nice" tick interval giving about `count` ticks over `span` ms. */
function tickStep(span, count = 5) {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * power) return m * power;
  return 10 * power;
}

/**
 * The timeline element. `open` is the set of step keys whose details are open (kept across live refreshes).
 */
export function renderTimeline(run, open = new Set(), now = Date.now()) {
  const model = layout(run, now);
  const pct = (t) => `${(((t - model.origin) / model.span) * 100).toFixed(3)}%`;
  const width = (from, to) => `${(((to - from) / model.span) * 100).toFixed(3)}%`;
  const step = tickStep(model.span);
  const ticks = [];
  // no tick in the last tenth: its label would run past the edge
  for (let t = 0; t <= model.span * 0.9; t += step) {
    ticks.push(h('span', { class: 'tick', style: { left: `${((t / model.span) * 100).toFixed(3)}%` } }, `+${duration(t)}`));
  }
  let budget = FIRST_ROWS;
  const hidden = [];

  const stepRow = (row, depth) => {
    const { step } = row;
    if (budget-- <= 0) {
      hidden.push(row);
      return null;
    }
    const failedAttempts = step.attempts.filter((a) => a.error).length;
    const body = h('div', { class: 'step-body' }, open.has(step.key) ? stepBody(step, row, model) : null);
    const title = displayName(step);
    const details = h(
      'details',
      {
        class: `step kind-${step.kind.toLowerCase()} step-${step.status.toLowerCase()}`,
        testid: 'step',
        open: open.has(step.key),
        dataset: { key: step.key, kind: step.kind, status: step.status },
        style: { '--depth': depth },
        ontoggle: () => {
          if (details.open) {
            open.add(step.key);
            // the body (attempts, output, errors) is built on first opening: a run of 1,000 steps stays light
            if (!body.firstChild) mount(body, stepBody(step, row, model));
          } else open.delete(step.key);
        },
      },
      h(
        'summary',
        { dataset: { focusKey: `step:${step.key}` } },
        h(
          'span',
          { class: 'step-label', title: step.key },
          h('span', { class: `kind-tag kind-${step.kind.toLowerCase()}` }, KIND_TAG[step.kind] ?? step.kind),
          h('span', { class: 'step-name' }, title),
          step.attempts.length > 1 ? h('span', { class: 'attempt-count', title: `${step.attempts.length} attempts, ${failedAttempts} failed` }, `×${step.attempts.length}`) : null,
        ),
        h(
          'span',
          { class: 'track', 'aria-hidden': 'true' },
          row.spans.map((s) =>
            h('span', {
              class: `bar ${s.type}`,
              testid: s.type.startsWith('backoff') ? 'backoff' : s.type.startsWith('sleep') ? 'sleep-bar' : 'bar',
              title: s.label,
              style: { left: pct(s.from), width: width(s.from, s.to) },
            }),
          ),
        ),
        h('span', { class: `step-status status-${step.status.toLowerCase()}` }, step.status === 'RUNNING' ? 'running' : duration(row.end - row.start)),
        h('span', { class: 'sr-only' }, ` ${step.status}, ${row.spans.map((s) => s.label).join('; ')}`),
      ),
      body,
    );
    return details;
  };

  const groupBlock = (g, depth) => {
    const kind = /\$race#/.test(g.key.slice(g.key.lastIndexOf('/') + 1)) ? 'race' : 'parallel';
    const lanes = [...g.lanes.values()];
    const decision = g.marker?.step.output;
    return h(
      'div',
      { class: 'group', role: 'group', testid: 'group', 'aria-label': `${kind} ${g.key}, ${lanes.length} branches`, dataset: { key: g.key } },
      h(
        'div',
        { class: 'group-head', style: { '--depth': depth } },
        h('span', { class: 'step-label', title: g.key }, h('span', { class: 'kind-tag kind-group' }, kind === 'race' ? 'RACE' : 'PAR'), h('span', { class: 'step-name' }, `${g.key} · ${lanes.length} branch${lanes.length === 1 ? '' : 'es'}`)),
        h('span', { class: 'track', 'aria-hidden': 'true' }, h('span', { class: 'bar group-span', style: { left: pct(g.start), width: width(g.start, g.end) } })),
        h('span', { class: 'step-status' }, decision && typeof decision === 'object' && 'index' in decision ? `winner: ${decision.index}` : duration(g.end - g.start)),
      ),
      lanes.map((l) =>
        h(
          'div',
          { class: 'lane', role: 'group', testid: 'lane', 'aria-label': `branch ${laneLabel(l.key)}`, dataset: { key: l.key } },
          h('div', { class: 'lane-head', style: { '--depth': depth + 1 } }, `branch ${laneLabel(l.key)}`),
          l.items.map((item) => (item.type === 'group' ? groupBlock(item, depth + 1) : stepRow(item, depth + 1))),
        ),
      ),
    );
  };

  const body = h(
    'div',
    { class: 'timeline-rows' },
    model.root.items.map((item) => (item.type === 'group' ? groupBlock(item, 0) : stepRow(item, 0))),
  );
  const more = hidden.length
    ? h(
        'button',
        {
          type: 'button',
          class: 'action',
          testid: 'timeline-more',
          onclick: (event) => {
            event.currentTarget.replaceWith(...hidden.map((row) => stepRow(row, 0)));
          },
        },
        `Show ${hidden.length} more steps`,
      )
    : null;
  if (hidden.length) budget = Infinity;

  return h(
    'div',
    { class: 'timeline', testid: 'timeline' },
    model.count === 0 ? h('p', { class: 'note muted' }, 'No steps recorded yet.') : null,
    h(
      'div',
      { class: 'axis', 'aria-hidden': 'true' },
      h('span', { class: 'step-label' }, h('span', { class: 'muted' }, `${model.count} step${model.count === 1 ? '' : 's'} · ${duration(model.span)}`)),
      h('span', { class: 'track ticks' }, ticks),
      h('span', {}),
    ),
    body,
    more,
    legend(),
  );
}

const KIND_TAG = { STEP: 'STEP', SLEEP: 'SLEEP', GROUP: 'GROUP', SIGNAL: 'WAIT', EVENT: 'EVENT', CHILD: 'CHILD' };

function laneLabel(key) {
  const match = /\[([^\]]*)\]$/.exec(key);
  return match ? match[1] : key;
}

/** The name to show: a child's result wait reads as such, the rest by its recorded name. */
function displayName(step) {
  if (step.kind === 'SIGNAL' && step.name.startsWith('$child:')) return `result of child ${step.name.slice(7, 15)}`;
  if (step.kind === 'SIGNAL') return `signal ${step.name}`;
  if (step.kind === 'CHILD') return `start child ${step.name}`;
  return step.name;
}

function stepBody(step, row, model) {
  const offset = (t) => `+${duration(t - model.origin)}`;
  const facts = [
    ['key', h('code', {}, step.key)],
    ['started', h('span', {}, time(step.startedAt), ' ', h('span', { class: 'muted' }, offset(Date.parse(step.startedAt))))],
    step.completedAt ? ['completed', time(step.completedAt)] : null,
    step.group ? ['group', h('code', {}, step.group)] : null,
    step.branch ? ['branch', h('code', {}, step.branch)] : null,
  ];
  if (step.kind === 'SLEEP') facts.push(['sleeps until', typeof step.output === 'string' ? time(step.output) : json(step.output)]);
  if (step.kind === 'CHILD' && typeof step.output === 'string') facts.push(['child run', runLink(step.output)]);
  if (step.kind === 'SIGNAL' && step.name.startsWith('$child:')) facts.push(['child run', runLink(step.name.slice(7))]);
  const parts = [
    h(
      'dl',
      { class: 'facts' },
      facts.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    ),
  ];
  if (step.kind === 'STEP' && step.attempts.length) {
    parts.push(
      h(
        'table',
        { class: 'attempts', testid: 'attempts' },
        h('caption', { class: 'sr-only' }, `Attempts of ${step.name}`),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'try'), h('th', { scope: 'col' }, 'started'), h('th', { scope: 'col' }, 'took'), h('th', { scope: 'col' }, 'waited before'), h('th', { scope: 'col' }, 'outcome'))),
        h(
          'tbody',
          {},
          step.attempts.map((a, i) => {
            const prev = step.attempts[i - 1];
            const wait = prev?.finishedAt ? Date.parse(a.startedAt) - Date.parse(prev.finishedAt) : undefined;
            return h(
              'tr',
              { testid: 'attempt', class: a.error ? 'failed' : '' },
              h('td', {}, a.attempt),
              h('td', {}, a.runTry),
              h('td', {}, time(a.startedAt), ' ', h('span', { class: 'muted' }, offset(Date.parse(a.startedAt)))),
              h('td', {}, a.finishedAt ? duration(Date.parse(a.finishedAt) - Date.parse(a.startedAt)) : 'running'),
              h('td', {}, wait === undefined ? '—' : duration(wait)),
              h('td', {}, a.error ? errorBlock(a.error, { compact: true }) : a.finishedAt ? 'ok' : '…'),
            );
          }),
        ),
      ),
    );
  }
  if (step.error && !(step.kind === 'STEP' && step.attempts.some((a) => a.error))) parts.push(errorBlock(step.error));
  if (step.output !== undefined && step.kind !== 'SLEEP') parts.push(h('div', { class: 'step-output' }, h('h4', {}, 'output'), json(step.output)));
  return parts;
}

function legend() {
  const item = (cls, text) => h('li', {}, h('span', { class: `swatch bar ${cls}`, 'aria-hidden': 'true' }), text);
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    item('attempt ok', 'attempt'),
    item('attempt failed', 'failed attempt'),
    item('backoff', 'back-off'),
    item('sleep', 'sleep'),
    item('wait', 'waiting for a signal or child'),
    item('attempt running', 'running'),
  );
}
