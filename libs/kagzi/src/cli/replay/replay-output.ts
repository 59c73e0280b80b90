import { plural } from '../format';
import type { CommandOutput } from '../kagzi-action';
import { RunVerdict, Verdict } from './replay-runs';

/** How many runs got each kind of verdict. */
export interface ReplaySummary {
  replayed: number;
  ok: number;
  nonDeterministic: number;
  fails: number;
  notRegistered: number;
  skipped: number;
}

const LABELS: Record<Verdict, (detail: string | null) => string> = {
  completed: () => 'ok completed',
  continues: (detail) => `ok continues at ${detail}`,
  'fails-as-recorded': (detail) => `ok fails as recorded: ${detail}`,
  skipped: (detail) => `skipped: ${detail}`,
  'non-deterministic': (detail) => `NON-DETERMINISTIC: ${detail}`,
  fails: (detail) => `FAILS where the run did not: ${detail}`,
  'not-registered': (detail) => `NOT REGISTERED: ${detail}`,
};

/** One line per run and a summary line (or one JSON document); `failure` (exit 1) when any run would break. */
export function replayOutput(workflow: string, verdicts: RunVerdict[]): CommandOutput {
  const summary = summarize(verdicts);
  const failing = summary.nonDeterministic + summary.fails + summary.notRegistered;
  const idWidth = Math.max(0, ...verdicts.map((v) => v.runId.length));
  const versionWidth = Math.max(0, ...verdicts.map((v) => String(v.version).length + 1));
  const statusWidth = Math.max(0, ...verdicts.map((v) => v.status.length));
  const lines = verdicts.map((v) =>
    [v.runId.padEnd(idWidth), `v${v.version}`.padEnd(versionWidth), v.status.padEnd(statusWidth), oneLine(LABELS[v.verdict](shorten(v)))].join('  '),
  );
  lines.push(summaryLine(summary));
  if (summary.nonDeterministic > 0) lines.push(ADVICE);
  const text = verdicts.length === 0 ? `0 runs replayed: no run of workflow "${workflow}" matches` : lines.join('\n');
  return {
    data: { runs: verdicts, summary },
    text,
    failure: failing === 0 ? undefined : `${failing} of ${plural(summary.replayed, 'run')} would fail with this code`,
  };
}

/** What the NON_DETERMINISM error says after the summary, once, rather than on every line. */
const ADVICE = 'Workflow code must make the same step calls with the same arguments on every replay; ship changed logic as a new workflow version.';

/** A line's detail: a NON_DETERMINISM message without the run id (the line starts with it) and the advice. */
function shorten(v: RunVerdict): string | null {
  if (v.verdict !== 'non-deterministic' || v.detail === null) return v.detail;
  return v.detail.replace(`Non-determinism in run ${v.runId}: `, '').replace(` ${ADVICE}`, '');
}

function summarize(verdicts: RunVerdict[]): ReplaySummary {
  const count = (...kinds: Verdict[]): number => verdicts.filter((v) => kinds.includes(v.verdict)).length;
  return {
    replayed: verdicts.length,
    ok: count('completed', 'continues', 'fails-as-recorded'),
    nonDeterministic: count('non-deterministic'),
    fails: count('fails'),
    notRegistered: count('not-registered'),
    skipped: count('skipped'),
  };
}

/** `5 runs replayed: 3 ok, 2 non-deterministic`, then the rarer kinds when there are any. */
function summaryLine(s: ReplaySummary): string {
  const extra = [
    s.fails > 0 ? `${s.fails} failing where the run did not` : '',
    s.notRegistered > 0 ? `${s.notRegistered} of versions the app does not register` : '',
    s.skipped > 0 ? `${s.skipped} skipped` : '',
  ].filter(Boolean);
  return `${plural(s.replayed, 'run')} replayed: ${[`${s.ok} ok`, `${s.nonDeterministic} non-deterministic`, ...extra].join(', ')}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
