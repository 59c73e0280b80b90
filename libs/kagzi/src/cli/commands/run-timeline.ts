import { SerializedStepError } from '../../errors/step.error';
import { RunDetails, StepDetails } from '../../interfaces/run.interface';

/** A step placed on the run's timeline: offsets in ms from the run's creation. */
export interface TimelineStep {
  /** The key's last part (`Orders.charge#1`): the call it records. */
  call: string;
  /** The parallel branch it ran in (`$parallel#1[0]`), or '' on the main path. */
  branch: string;
  status: StepDetails['status'];
  startMs: number;
  /** Until the last attempt ended; undefined while it still runs. */
  durationMs?: number;
  attempts: number;
  failedAttempts: number;
  step: StepDetails;
}

/**
 * Lays a run's steps out in time. A step's key is its branch path and its call (`$parallel#1[0]/Orders.pack#1`),
 * so the branch a step ran in is the key up to the last `/` that is not inside brackets.
 */
export function buildTimeline(run: RunDetails): TimelineStep[] {
  const origin = run.createdAt.getTime();
  return run.steps.map((step) => {
    const cut = branchCut(step.key);
    const first = step.attempts[0];
    const last = step.attempts[step.attempts.length - 1];
    const start = (first?.startedAt ?? run.createdAt).getTime();
    const end = last?.finishedAt?.getTime();
    return {
      call: step.key.slice(cut + 1),
      branch: cut < 0 ? '' : step.key.slice(0, cut),
      status: step.status,
      startMs: start - origin,
      ...(end !== undefined && step.status !== 'RUNNING' ? { durationMs: end - start } : {}),
      attempts: step.attempts.length,
      failedAttempts: step.attempts.filter((a) => a.error).length,
      step,
    };
  });
}

/** The index of the `/` that ends the step's branch path, or -1 on the main path. */
function branchCut(key: string): number {
  let depth = 0;
  let cut = -1;
  for (let i = 0; i < key.length; i++) {
    if (key[i] === '[') depth++;
    else if (key[i] === ']') depth--;
    else if (key[i] === '/' && depth === 0) cut = i;
  }
  return cut;
}

/**
 * A bar of `width` cells showing [start, start + duration) within [0, span): parallel branches show as
 * overlapping bars, back-off and sleeps as gaps. A step still running reaches the right edge.
 */
export function timelineBar(startMs: number, durationMs: number | undefined, spanMs: number, width = 24): string {
  const scale = spanMs > 0 ? width / spanMs : 0;
  const from = Math.min(width - 1, Math.floor(startMs * scale));
  const to = durationMs === undefined ? width : Math.max(from + 1, Math.min(width, Math.ceil((startMs + durationMs) * scale)));
  return `${' '.repeat(from)}${'█'.repeat(to - from)}${' '.repeat(width - to)}`;
}

/** The span the bars are drawn against: from the run's creation to its end, or to now while it runs. */
export function timelineSpan(run: RunDetails, steps: TimelineStep[], now: Date): number {
  const end = run.completedAt ?? now;
  const lastStepEnd = Math.max(0, ...steps.map((s) => s.startMs + (s.durationMs ?? 0)));
  return Math.max(end.getTime() - run.createdAt.getTime(), lastStepEnd, 1);
}

/** `SERVICE_UNAVAILABLE GW_BUSY: gateway busy`: kind, code and message of a stored error. */
export function formatStepError(error: SerializedStepError, max = 100): string {
  const text = `${error.kind}${error.code ? ` ${error.code}` : ''}: ${error.message}`.replace(/\s*\n\s*/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The error with its class, step and attempt, then its cause chain, one line each. */
export function describeRunError(error: SerializedStepError): string[] {
  const where = error.stepName ? ` in ${error.stepName}, attempt ${error.attempt}` : '';
  const lines = [`${error.name}${where}: ${formatStepError(error, 200)}`];
  for (let cause = error.cause, depth = 0; cause && depth < 5; cause = cause.cause, depth++) {
    lines.push(`caused by ${cause.name}: ${cause.message.replace(/\s*\n\s*/g, ' ')}`);
  }
  return lines;
}
