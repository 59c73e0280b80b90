import type { SerializedStepError } from '../errors/step.error';
import type { RunStatus, StepKind } from './run.interface';

/** A payload as Kagzi stores it (superjson's `{ json, meta }`), kept as is so a replay decodes what the worker decoded. */
export type StoredValue = {
  /** The JSON part. */
  json: unknown;
  /** superjson's type annotations (Dates, Maps, BigInts, …), if any. */
  meta?: unknown;
};

/**
 * A run's recorded history as plain JSON (`client.exportRun(runId)`): what `replayRun` executes the
 * current code against, and what a CI job can keep as a file. Times are ISO strings.
 */
export interface RunHistory {
  /** The format; `replayRun` refuses a history of another format. */
  format: 'kagzi.run-history.v1';
  /** The run's id. */
  runId: string;
  /** The workflow's name. */
  workflowName: string;
  /** The version the run is pinned to. */
  version: number;
  /** Its status when exported. */
  status: RunStatus;
  /** The stored input. */
  input: StoredValue | null;
  /** The stored output, once COMPLETED. */
  output?: StoredValue;
  /** Why it failed or was cancelled. */
  error?: SerializedStepError;
  /** When it was started. */
  createdAt: string;
  /** When it reached a terminal status. */
  completedAt?: string;
  /** A cancel was requested (and, once delivered to the code, cut at `cancelCutAt`). */
  cancelRequestedAt?: string;
  /** Where the cancel was delivered to the code; absent until then. */
  cancelCutAt?: string;
  /** The reason given to `cancel()`, if any. */
  cancelReason?: string;
  /** Every recorded call, in the order it started: steps, sleeps, groups, signal waits, events, children. */
  steps: HistoryStep[];
  /** Every attempt of every step, with its error; `runTry` counts `client.retry`s. */
  attempts: Array<{
    /** The step's key. */
    key: string;
    /** 1, 2, … within its try. */
    attempt: number;
    /** Which try of the run. */
    runTry: number;
    /** When it started. */
    startedAt: string;
    /** When it ended. */
    finishedAt?: string;
    /** Why it failed. */
    error?: SerializedStepError;
  }>;
  /** Signals sent to the run, oldest first. */
  signals: Array<{
    /** Its name. */
    name: string;
    /** Its stored payload. */
    payload: StoredValue | null;
    /** When it was sent. */
    sentAt: string;
    /** When a wait took it. */
    consumedAt?: string;
  }>;
  /** The runs it started as children. */
  children: Array<{
    /** The child's id. */
    runId: string;
    /** Its workflow. */
    workflowName: string;
    /** Its version. */
    version: number;
    /** Its status when exported. */
    status: RunStatus;
  }>;
}

/** One recorded entry of a {@link RunHistory}: a step, sleep, group, signal wait, event or child. */
export interface HistoryStep {
  /** Its key: scope path, name and call count, unique within the run. */
  key: string;
  /** The step's name, or the kind's own label. */
  name: string;
  /** What kind of entry it is. */
  kind: StepKind;
  /** RUNNING: not yet ended (between attempts, sleeping, waiting). */
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  /** The hash of the arguments it was called with (steps only): a replay with other arguments is non-deterministic. */
  argsHash: string | null;
  /** The stored result, once COMPLETED. */
  output: StoredValue | null;
  /** The final error, once FAILED. */
  error: SerializedStepError | null;
  /** How many attempts it took so far. */
  attempts: number;
  /** RUNNING: when the next attempt (or the sleep's end, the wait's timeout) is due. */
  nextAttemptAt: string | null;
  /** When it started. */
  startedAt: string;
  /** When it ended. */
  completedAt?: string;
  /** Inside `ctx.parallel`/`ctx.race`: the key of the innermost group. */
  group?: string;
  /** The branch index within `group`. */
  branch?: string;
}
