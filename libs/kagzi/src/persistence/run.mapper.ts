import { isUuid } from '../common/ids';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { RunDetails, RunSummary, StepAttempt, StepDetails, WorkerInfo, WorkflowVersionInfo } from '../interfaces/run.interface';
import { RetryRow, RunRow, SignalRow, StepAttemptRow, StepRow, VersionRow, WorkerRow } from './run.rows';

/** The one place rows become camelCase domain objects. */
export function toRunSummary(row: RunRow): RunSummary {
  const summary: RunSummary = {
    runId: row.id,
    workflowName: row.workflow_name,
    version: row.workflow_version,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.idempotency_key !== null) summary.idempotencyKey = row.idempotency_key;
  if (row.completed_at !== null) summary.completedAt = row.completed_at;
  return summary;
}

export function toRunDetails(
  found: { run: RunRow; steps: StepRow[]; attempts: StepAttemptRow[]; signals: SignalRow[]; children: RunRow[]; retries: RetryRow[] },
  serializer: PayloadSerializer,
): RunDetails {
  const { run, steps, attempts, signals } = found;
  const attemptsByKey = new Map<string, StepAttempt[]>();
  for (const a of attempts) {
    const list = attemptsByKey.get(a.step_key) ?? [];
    list.push({
      attempt: a.attempt,
      runTry: a.run_try,
      startedAt: a.started_at,
      ...(a.finished_at ? { finishedAt: a.finished_at } : {}),
      ...(a.error ? { error: a.error } : {}),
    });
    attemptsByKey.set(a.step_key, list);
  }
  const details: RunDetails = {
    runId: run.id,
    workflowName: run.workflow_name,
    version: run.workflow_version,
    status: run.status,
    input: serializer.decode(run.input),
    createdAt: run.created_at,
    updatedAt: run.updated_at,
    steps: steps.map((s) => toStepDetails(s, attemptsByKey.get(s.step_key), serializer)),
    children: found.children.map(toRunSummary),
    retries: found.retries.map((r) => ({ at: r.retried_at, previousStatus: r.previous_status, ...(r.previous_error ? { previousError: r.previous_error } : {}) })),
    signals: signals.map((g) => ({ name: g.name, payload: serializer.decode(g.payload), sentAt: g.sent_at, ...(g.consumed_at ? { consumedAt: g.consumed_at } : {}) })),
  };
  if (run.output !== null && run.output !== undefined) details.output = serializer.decode(run.output);
  if (run.error) details.error = run.error;
  if (run.completed_at !== null) details.completedAt = run.completed_at;
  if (run.parent_run_id) details.parentRunId = run.parent_run_id;
  if (run.continued_as) details.continuedAs = run.continued_as;
  if (run.continued_from) details.continuedFrom = run.continued_from;
  if (run.idempotency_key !== null) details.idempotencyKey = run.idempotency_key;
  if (run.cancel_requested_at) details.cancelRequestedAt = run.cancel_requested_at;
  if (run.cancel_reason) details.cancelReason = run.cancel_reason;
  return details;
}

function toStepDetails(row: StepRow, attempts: StepAttempt[] | undefined, serializer: PayloadSerializer): StepDetails {
  const step: StepDetails = {
    key: row.step_key,
    name: row.step_name,
    kind: row.kind,
    status: row.status,
    startedAt: row.started_at,
    // A durable sleep has no attempts; its one record stands for itself.
    attempts: attempts ?? [
      { attempt: 1, runTry: 1, startedAt: row.started_at, ...(row.completed_at ? { finishedAt: row.completed_at } : {}) },
    ],
  };
  if (row.completed_at !== null) step.completedAt = row.completed_at;
  if (row.parallel_group_id !== null) step.group = row.parallel_group_id;
  if (row.parent_step_id !== null) step.branch = row.parent_step_id;
  if (row.output !== null) step.output = serializer.decode(row.output);
  if (row.error) step.error = row.error;
  return step;
}

/** Keyset cursor over (created_at, id); microseconds matter, so the timestamp travels as text. */
export function encodeCursor(row: RunRow): string {
  return Buffer.from(JSON.stringify([row.cursor_at ?? row.created_at.toISOString(), row.id])).toString('base64url');
}

/** A timestamp as PostgreSQL prints it (`2026-11-30 04:58:01.123456+00`) or as toISOString() does. */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)$/;

/**
 * Whether a timestamp of the cursor's shape names a time PostgreSQL accepts: Date.parse rolls 30 February
 * over to March and knows no year 0, and PostgreSQL refuses offsets beyond ±15:59.
 */
function isRealTime(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2})(?::?(\d{2}))?)$/.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second, offsetHours = 0, offsetMinutes = 0] = m.slice(1).map((part) => (part === undefined ? undefined : Number(part)));
  const date = new Date(Date.UTC(year!, month! - 1, day!));
  return (
    year! >= 1 && month! >= 1 && month! <= 12 && date.getUTCMonth() === month! - 1 && date.getUTCDate() === day &&
    hour! <= 23 && minute! <= 59 && second! <= 59 && offsetHours <= 15 && offsetMinutes <= 59
  );
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    // Date.parse accepts far more than PostgreSQL does ('1', '2030', year 275760): the shape encodeCursor writes, then a real date.
    const validTime = typeof createdAt === 'string' && CURSOR_TIME.test(createdAt) && isRealTime(createdAt);
    if (!validTime || !isUuid(id)) throw new Error('bad cursor');
    return { createdAt, id };
  } catch {
    throw new InvalidOptionsError('listRuns(): cursor is not one returned by listRuns; pass nextCursor unchanged');
  }
}

export function toVersionInfo(row: VersionRow): WorkflowVersionInfo {
  const info: WorkflowVersionInfo = {
    name: row.workflow_name,
    version: row.version,
    isDefault: row.is_default,
    deprecated: row.deprecated_at !== null,
    registeredAt: row.registered_at,
    lastSeenAt: row.last_seen_at,
    served: row.served,
    runs: row.runs,
  };
  if (row.deprecated_at !== null) info.deprecatedAt = row.deprecated_at;
  return info;
}

export function toWorkerInfo(row: WorkerRow): WorkerInfo {
  return {
    name: row.name,
    hostname: row.hostname,
    pid: row.pid,
    status: row.status,
    startedAt: row.started_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    concurrency: row.concurrency,
    activeRuns: row.active_runs,
    workflows: row.workflows,
  };
}
