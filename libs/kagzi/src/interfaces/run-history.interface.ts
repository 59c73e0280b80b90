import type { SerializedStepError } from '../errors/step.error';
import type { RunStatus, StepKind } from './run.interface';

/** A payload as Kagzi stores it (superjson's `{ json, meta }`), kept as is so a replay decodes what the worker decoded. */
export type StoredValue = { json: unknown; meta?: unknown };

/**
 * A run's recorded history as plain JSON (`client.exportRun(runId)`): what `replayRun` executes the
 * current code against, and what a CI job can keep as a file. Times are ISO strings.
 */
export interface RunHistory {
  /** The format; `replayRun` refuses a history of another format. */
  format: 'kagzi.run-history.v1';
  runId: string;
  workflowName: string;
  version: number;
  status: RunStatus;
  input: StoredValue | null;
  output?: StoredValue;
  error?: SerializedStepError;
  createdAt: string;
  completedAt?: string;
  /** A cancel was requested (and, once delivered to the code, cut at `cancelCutAt`). */
  cancelRequestedAt?: string;
  cancelCutAt?: string;
  cancelReason?: string;
  /** Every recorded call, in the order it started: steps, sleeps, groups, signal waits, events, children. */
  steps: HistoryStep[];
  /** Every attempt of every step, with its error; `runTry` counts `client.retry`s. */
  attempts: Array<{ key: string; attempt: number; runTry: number; startedAt: string; finishedAt?: string; error?: SerializedStepError }>;
  signals: Array<{ name: string; payload: StoredValue | null; sentAt: string; consumedAt?: string }>;
  children: Array<{ runId: string; workflowName: string; version: number; status: RunStatus }>;
}

export interface HistoryStep {
  key: string;
  name: string;
  kind: StepKind;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  /** The hash of the arguments it was called with (steps only): a replay with other arguments is non-deterministic. */
  argsHash: string | null;
  output: StoredValue | null;
  error: SerializedStepError | null;
  attempts: number;
  /** RUNNING: when the next attempt (or the sleep's end, the wait's timeout) is due. */
  nextAttemptAt: string | null;
  startedAt: string;
  completedAt?: string;
  group?: string;
  branch?: string;
}
