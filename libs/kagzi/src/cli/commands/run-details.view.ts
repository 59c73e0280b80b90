import { RunDetails } from '../../interfaces/run.interface';
import { formatDuration, formatTime, formatTimeAgo, formatValue, plural, renderFields, renderTable } from '../format';
import { buildTimeline, describeRunError, formatStepError, timelineBar, timelineSpan, TimelineStep } from './run-timeline';

/** `kagzi runs show`: the run, its steps as a timeline, the attempts that failed or were retried, signals, children, retries. */
export function renderRunDetails(run: RunDetails, now: Date): string {
  const steps = buildTimeline(run);
  const sections = [renderFields(headerFields(run, now))];
  sections.push(steps.length === 0 ? 'No steps recorded yet.' : renderSteps(run, steps, now));
  const attempts = renderAttempts(run, steps);
  if (attempts) sections.push(attempts);
  if (run.signals.length > 0) {
    sections.push(`Signals\n${renderTable(
      ['signal', 'sent', 'consumed', 'payload'],
      run.signals.map((s) => [s.name, formatTime(s.sentAt), s.consumedAt ? formatTime(s.consumedAt) : 'waiting', formatValue(s.payload, 60)]),
    )}`);
  }
  if (run.children.length > 0) {
    sections.push(`Children\n${renderTable(
      ['run id', 'workflow', 'status', 'created'],
      run.children.map((c) => [c.runId, `${c.workflowName} v${c.version}`, c.status, formatTime(c.createdAt)]),
    )}`);
  }
  if (run.retries.length > 0) {
    sections.push(`Retries\n${renderTable(
      ['retried', 'was', 'its error'],
      run.retries.map((r) => [formatTimeAgo(r.at, now), r.previousStatus, r.previousError ? formatStepError(r.previousError, 80) : '-']),
    )}`);
  }
  return sections.join('\n\n');
}

function headerFields(run: RunDetails, now: Date): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ['Run', run.runId],
    ['Workflow', `${run.workflowName} v${run.version}`],
    ['Status', run.cancelRequestedAt && !run.completedAt ? `${run.status} (cancel requested ${formatTimeAgo(run.cancelRequestedAt, now)})` : run.status],
    ['Created', formatTimeAgo(run.createdAt, now)],
  ];
  if (run.completedAt) fields.push(['Ended', `${formatTime(run.completedAt)} (took ${formatDuration(run.completedAt.getTime() - run.createdAt.getTime())})`]);
  else fields.push(['Updated', formatTimeAgo(run.updatedAt, now)]);
  fields.push(['Input', formatValue(run.input)]);
  if (run.output !== undefined) fields.push(['Output', formatValue(run.output)]);
  if (run.error) describeRunError(run.error).forEach((line, i) => fields.push([i === 0 ? 'Error' : '', line]));
  if (run.parentRunId) fields.push(['Parent', run.parentRunId]);
  if (run.continuedFrom) fields.push(['Continued from', run.continuedFrom]);
  if (run.continuedAs) fields.push(['Continued as', run.continuedAs]);
  if (run.retries.length > 0) fields.push(['Retried', plural(run.retries.length, 'time')]);
  return fields;
}

function renderSteps(run: RunDetails, steps: TimelineStep[], now: Date): string {
  const span = timelineSpan(run, steps, now);
  const showBranches = steps.some((s) => s.branch !== '');
  const head = ['start', 'took', 'step', ...(showBranches ? ['branch'] : []), 'status', 'attempts', `timeline (${formatDuration(span)})`];
  const rows = steps.map((s) => [
    `+${formatDuration(s.startMs)}`,
    // A step the run ended without (a wait a cancel cut short) stays recorded as RUNNING.
    s.durationMs === undefined ? (run.completedAt ? 'unfinished' : 'running') : formatDuration(s.durationMs),
    s.call,
    ...(showBranches ? [s.branch || '-'] : []),
    s.status,
    s.failedAttempts > 0 ? `${s.attempts} (${s.failedAttempts} failed)` : String(s.attempts),
    timelineBar(s.startMs, s.durationMs, span),
  ]);
  return `Steps (start is the offset from the run's creation)\n${renderTable(head, rows)}`;
}

/** Every attempt of the steps that failed an attempt or were tried more than once, with the wait between attempts visible in their starts. */
function renderAttempts(run: RunDetails, steps: TimelineStep[]): string | undefined {
  const retried = steps.filter((s) => s.attempts > 1 || s.failedAttempts > 0);
  if (retried.length === 0) return undefined;
  const origin = run.createdAt.getTime();
  const rows = retried.flatMap((s) =>
    s.step.attempts.map((a) => [
      s.call,
      a.runTry,
      a.attempt,
      `+${formatDuration(a.startedAt.getTime() - origin)}`,
      a.finishedAt ? formatDuration(a.finishedAt.getTime() - a.startedAt.getTime()) : 'running',
      a.error ? formatStepError(a.error) : a.finishedAt ? 'ok' : '-',
    ]),
  );
  return `Attempts\n${renderTable(['step', 'try', 'attempt', 'start', 'took', 'outcome'], rows)}`;
}
