import { SerializedStepError } from '../errors/step.error';
import { StoredPayload } from '../execution/payload.serializer';
import { RunStatus } from '../interfaces/run.interface';

/** Row shapes as the pg driver returns them (snake_case; json parsed; timestamps as Date). */
export interface ClaimedRunRow {
  id: string;
  workflow_name: string;
  workflow_version: number;
  input: StoredPayload | null;
  lease_epoch: number;
  cancel_requested_at: Date | null;
  cancel_cut_at: Date | null;
  cancel_reason: string | null;
  /** The starter's W3C trace context (propagator carrier); null without an SDK. */
  trace_context: Record<string, string> | null;
  /** Milliseconds since it was due, and since its first claim (by the database's clock); numeric as text. */
  claim_lag_ms: string;
  age_ms: string;
  /** A run claimed before: its recorded steps, as JSON (timestamps as text). */
  steps: Array<Omit<StoredStepRow, 'next_attempt_at' | 'started_at'> & { next_attempt_at: string | null; started_at: string | null }> | null;
}

export interface StoredStepRow {
  step_key: string;
  step_name: string;
  kind: 'STEP' | 'SLEEP' | 'GROUP' | 'SIGNAL' | 'EVENT' | 'CHILD';
  /** RUNNING: waiting for its next attempt (attempts failed so far, next_attempt_at). */
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  args_hash: string | null;
  output: StoredPayload | null;
  error: SerializedStepError | null;
  attempts: number;
  next_attempt_at: Date | null;
  /** When the first attempt (or the sleep, the group) started; loaded by loadSteps (the retry budget counts from it). */
  started_at?: Date;
}

export interface StepAttemptRow {
  step_key: string;
  run_try: number;
  attempt: number;
  started_at: Date;
  finished_at: Date | null;
  error: SerializedStepError | null;
}

export interface RunOutcomeRow {
  status: RunStatus;
  output: StoredPayload | null;
  error: SerializedStepError | null;
  /** Set on a run that ended with ctx.continueAsNew: the next run of its chain. */
  continued_as?: string | null;
}

export interface RunRow {
  id: string;
  workflow_name: string;
  workflow_version: number;
  status: RunStatus;
  input?: StoredPayload | null;
  output?: StoredPayload | null;
  error?: SerializedStepError | null;
  idempotency_key: string | null;
  parent_run_id?: string | null;
  continued_as?: string | null;
  continued_from?: string | null;
  cancel_requested_at?: Date | null;
  cancel_reason?: string | null;
  cancel_cut_at?: Date | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  cursor_at?: string;
}

export interface StepRow {
  step_key: string;
  step_name: string;
  kind: 'STEP' | 'SLEEP' | 'GROUP' | 'SIGNAL' | 'EVENT' | 'CHILD';
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  args_hash: string | null;
  output: StoredPayload | null;
  error: SerializedStepError | null;
  attempts: number;
  next_attempt_at: Date | null;
  started_at: Date;
  completed_at: Date | null;
  parallel_group_id: string | null;
  parent_step_id: string | null;
}

export interface InsertRunResult {
  known_versions: number;
  version: number | null;
  version_known: boolean;
  usable: boolean;
  /** null: nothing inserted (no usable version, or the idempotency key was used before). */
  id: string | null;
}

export interface VersionRow {
  workflow_name: string;
  version: number;
  is_default: boolean;
  deprecated_at: Date | null;
  registered_at: Date;
  last_seen_at: Date;
  served: boolean;
  runs: Partial<Record<RunStatus, number>>;
}

export interface WorkerRow {
  name: string;
  hostname: string;
  pid: number;
  status: 'RUNNING' | 'DRAINING' | 'STOPPED' | 'LOST';
  started_at: Date;
  last_heartbeat_at: Date;
  concurrency: number;
  active_runs: number;
  workflows: string[];
}

export interface SignalRow {
  name: string;
  payload: StoredPayload | null;
  sent_at: Date;
  consumed_at: Date | null;
}

export interface RetryRow {
  retried_at: Date;
  previous_status: 'FAILED' | 'CANCELLED';
  previous_error: SerializedStepError | null;
}
