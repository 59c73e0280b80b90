import { HistoryStep, RunHistory } from '../interfaces/run-history.interface';
import { RetryRow, RunRow, SignalRow, StepAttemptRow, StepRow, StoredStepRow } from './run.rows';

const iso = (date: Date): string => date.toISOString();

/** A run's rows as a plain-JSON history (payloads kept in their stored form). */
export function toRunHistory(found: { run: RunRow; steps: StepRow[]; attempts: StepAttemptRow[]; signals: SignalRow[]; children: RunRow[]; retries: RetryRow[] }): RunHistory {
  const { run } = found;
  const history: RunHistory = {
    format: 'kagzi.run-history.v1',
    runId: run.id,
    workflowName: run.workflow_name,
    version: run.workflow_version,
    status: run.status,
    input: run.input ?? null,
    createdAt: iso(run.created_at),
    steps: found.steps.map(toHistoryStep),
    attempts: found.attempts.map((a) => ({
      key: a.step_key, attempt: a.attempt, runTry: a.run_try, startedAt: iso(a.started_at),
      ...(a.finished_at ? { finishedAt: iso(a.finished_at) } : {}), ...(a.error ? { error: a.error } : {}),
    })),
    signals: found.signals.map((g) => ({ name: g.name, payload: g.payload, sentAt: iso(g.sent_at), ...(g.consumed_at ? { consumedAt: iso(g.consumed_at) } : {}) })),
    children: found.children.map((c) => ({ runId: c.id, workflowName: c.workflow_name, version: c.workflow_version, status: c.status })),
  };
  if (run.output) history.output = run.output;
  if (run.error) history.error = run.error;
  if (run.completed_at) history.completedAt = iso(run.completed_at);
  if (run.cancel_requested_at) history.cancelRequestedAt = iso(run.cancel_requested_at);
  if (run.cancel_cut_at) history.cancelCutAt = iso(run.cancel_cut_at);
  if (run.cancel_reason) history.cancelReason = run.cancel_reason;
  return history;
}

function toHistoryStep(row: StepRow): HistoryStep {
  const step: HistoryStep = {
    key: row.step_key, name: row.step_name, kind: row.kind, status: row.status, argsHash: row.args_hash, output: row.output, error: row.error,
    attempts: row.attempts, nextAttemptAt: row.next_attempt_at ? iso(row.next_attempt_at) : null, startedAt: iso(row.started_at),
  };
  if (row.completed_at) step.completedAt = iso(row.completed_at);
  if (row.parallel_group_id !== null) step.group = row.parallel_group_id;
  if (row.parent_step_id !== null) step.branch = row.parent_step_id;
  return step;
}

/** A history's steps as the records a worker loads when it claims the run again. */
export function toStoredSteps(history: RunHistory): StoredStepRow[] {
  return history.steps.map((s) => ({
    step_key: s.key, step_name: s.name, kind: s.kind, status: s.status, args_hash: s.argsHash, output: s.output, error: s.error, attempts: s.attempts,
    next_attempt_at: s.nextAttemptAt === null ? null : new Date(s.nextAttemptAt), started_at: new Date(s.startedAt),
  }));
}
