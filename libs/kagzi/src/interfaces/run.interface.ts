import type { EntityManager } from 'typeorm';
import { Duration } from '../common/duration';
import { SerializedStepError } from '../errors/step.error';

/**
 * A run's status. PENDING: waiting for a worker; RUNNING: leased by a worker; SLEEPING: parked until a time;
 * WAITING: parked on a signal (possibly with a timeout), slot freed; COMPLETED, FAILED, CANCELLED: terminal.
 */
export type RunStatus = 'PENDING' | 'RUNNING' | 'SLEEPING' | 'WAITING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

export const RUN_STATUSES: readonly RunStatus[] = ['PENDING', 'RUNNING', 'SLEEPING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED'];
export const TERMINAL_STATUSES: readonly RunStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

/** Options of `WorkflowClient.start` (and, except `manager`, of `signalWithStart` and `startMany`). */
export interface StartOptions {
  /** Pin the run to this version; default: the workflow's default version. */
  version?: number;
  /** A second `start` with the same workflow name and key returns the first run's handle. */
  idempotencyKey?: string;
  /** Start no earlier than this from now. */
  delay?: Duration;
  /**
   * Insert the run in this TypeORM EntityManager's transaction (`dataSource.transaction(async (manager) => …)`):
   * the run exists, and runs, only if that transaction commits; workers are woken at commit. The manager's
   * database must be Kagzi's. `start()` only (not `signalWithStart`).
   */
  manager?: EntityManager;
}

/** One attempt of a step, as `RunDetails.steps[].attempts` lists it. */
export interface StepAttempt {
  /** 1, 2, … within its try: a retried run's step starts a fresh series. */
  attempt: number;
  /** Which try of the run the attempt belongs to: 1 until the run is retried (`client.retry`). */
  runTry: number;
  /** When the attempt started. */
  startedAt: Date;
  /** When it ended; absent while it runs. */
  finishedAt?: Date;
  /** Why it failed; absent if it succeeded or still runs. */
  error?: SerializedStepError;
}

/** What a recorded entry of a run is: a step call, a durable sleep, a parallel group, a signal wait, an event set, a child started. */
export type StepKind = 'STEP' | 'SLEEP' | 'GROUP' | 'SIGNAL' | 'EVENT' | 'CHILD';

/** One recorded entry of a run (a step, sleep, group, signal wait, event or child), in `RunDetails.steps`. */
export interface StepDetails {
  /** Its key in the run's history: scope path, name and call count (e.g. `charge#1`), unique within the run. */
  key: string;
  /** The step's name (`@Step({ name })`, else `Class.method`), or the kind's own label. */
  name: string;
  /** What kind of entry it is. */
  kind: StepKind;
  /** RUNNING: in progress (a step between attempts, a sleep not yet over, a group with branches going). */
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  /** When its first attempt (the sleep, the group, the wait) started, and when it ended. */
  startedAt: Date;
  /** When it ended; absent while RUNNING. */
  completedAt?: Date;
  /** Inside `ctx.parallel`/`ctx.race`: the key of the innermost group, and the branch (its index) within it. */
  group?: string;
  /** The branch index within `group`, as a string. */
  branch?: string;
  /** The recorded result (deserialized), once COMPLETED. */
  output?: unknown;
  /** The final error, once FAILED. */
  error?: SerializedStepError;
  /** Every attempt, oldest first (one for entries that are not retried). */
  attempts: StepAttempt[];
}

/** Everything stored about one run, as `WorkflowClient.describe` returns it. */
export interface RunDetails {
  /** The run's id (a UUID). */
  runId: string;
  /** The workflow's name. */
  workflowName: string;
  /** The workflow version the run is pinned to. */
  version: number;
  /** Its current status. */
  status: RunStatus;
  /** The input it was started with (deserialized). */
  input: unknown;
  /** The workflow's return value, once COMPLETED. */
  output?: unknown;
  /** Why it failed (or was cancelled), once FAILED or CANCELLED. */
  error?: SerializedStepError;
  /** When it was started. */
  createdAt: Date;
  /** When its row last changed. */
  updatedAt: Date;
  /** When it reached a terminal status. */
  completedAt?: Date;
  /** Its recorded history, in the order it started. */
  steps: StepDetails[];
  /** Signals sent to the run, oldest first; `consumedAt` once a wait took it. */
  signals: SignalDetails[];
  /** The run that started this one with ctx.startChild / ctx.executeChild. */
  parentRunId?: string;
  /** The runs this one started as children, oldest first. */
  children: RunSummary[];
  /** The run ended with ctx.continueAsNew: the next run of its chain (`result()` follows it). */
  continuedAs?: string;
  /** The run was started by ctx.continueAsNew of this one. */
  continuedFrom?: string;
  /** The key it was started with (`StartOptions.idempotencyKey`), if any. */
  idempotencyKey?: string;
  /** A cancel was requested then; the status stays live until the run's code has handled it. */
  cancelRequestedAt?: Date;
  /** The reason given to `cancel()`, if any. */
  cancelReason?: string;
  /** Each `client.retry` of the run, oldest first, with the status and error it replaced. */
  retries: RunRetry[];
}

/** One `WorkflowClient.retry` of a run, in `RunDetails.retries`. */
export interface RunRetry {
  /** When the retry was made. */
  at: Date;
  /** The status the retry replaced. */
  previousStatus: 'FAILED' | 'CANCELLED';
  /** The error the retry replaced, if any. */
  previousError?: SerializedStepError;
}

/** A signal sent to a run, in `RunDetails.signals`. */
export interface SignalDetails {
  /** The signal's name. */
  name: string;
  /** Its payload (deserialized). */
  payload: unknown;
  /** When it was sent. */
  sentAt: Date;
  /** When a `ctx.waitForSignal` took it; absent while it is unread. */
  consumedAt?: Date;
}

/** One run in a list (`WorkflowClient.listRuns`, `RunDetails.children`). Fields as in {@link RunDetails}. */
export interface RunSummary {
  /** The run's id. */
  runId: string;
  /** The workflow's name. */
  workflowName: string;
  /** The version it is pinned to. */
  version: number;
  /** Its current status. */
  status: RunStatus;
  /** The key it was started with, if any. */
  idempotencyKey?: string;
  /** When it was started. */
  createdAt: Date;
  /** When its row last changed. */
  updatedAt: Date;
  /** When it reached a terminal status. */
  completedAt?: Date;
}

/** Which runs `WorkflowClient.listRuns` returns; every field is optional and they combine with AND. */
export interface RunFilter {
  /** Workflow name. */
  name?: string;
  /** Workflow version. */
  version?: number;
  /** One status, or any of several. */
  status?: RunStatus | RunStatus[];
  /** Runs created strictly after this time. */
  createdAfter?: Date;
  /** Runs created strictly before this time. */
  createdBefore?: Date;
}

/** One page of a keyset-paged list, newest first. */
export interface Page<T> {
  /** The page's items. */
  items: T[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

/** One registered (name, version) pair, as `WorkflowClient.listVersions` returns it. */
export interface WorkflowVersionInfo {
  /** The workflow's name. */
  name: string;
  /** The version. */
  version: number;
  /** The version start() uses without options.version. */
  isDefault: boolean;
  /** Deprecated versions start no new runs (`WorkflowVersionDeprecatedError`); their runs in flight finish. */
  deprecated: boolean;
  /** When it was deprecated. */
  deprecatedAt?: Date;
  /** When a process first registered it. */
  registeredAt: Date;
  /** When a process last registered it (at boot). */
  lastSeenAt: Date;
  /** Some live worker serves it; false with runs in flight means stranded work. */
  served: boolean;
  /** Runs in flight (PENDING, RUNNING, SLEEPING, WAITING) per status. */
  runs: Partial<Record<RunStatus, number>>;
}

/** One worker process, as `WorkflowClient.listWorkers` returns it. */
export interface WorkerInfo {
  /** The worker's name (`worker.name`, unique per process). */
  name: string;
  /** The host it runs on. */
  hostname: string;
  /** Its process id. */
  pid: number;
  /** LOST: stopped heartbeating (a live row whose heartbeat is older than 3 of its intervals reads LOST too). */
  status: 'RUNNING' | 'DRAINING' | 'STOPPED' | 'LOST';
  /** When it started. */
  startedAt: Date;
  /** Its last heartbeat. */
  lastHeartbeatAt: Date;
  /** How many runs it executes at once (`worker.concurrency`). */
  concurrency: number;
  /** Runs it held at its last heartbeat. */
  activeRuns: number;
  /** The (name, version) pairs it serves, as `name@version`. */
  workflows: string[];
}

/** A workflow's cron schedule (`@Workflow({ schedule })`), as `client.listSchedules()` shows it. */
export interface ScheduleInfo {
  /** The workflow's name. */
  workflowName: string;
  /** The workflow's default version: the schedule it declares is the one that ticks, and starts runs of it. */
  version: number;
  /** The cron expression. */
  cron: string;
  /** The IANA time zone the expression is read in. */
  timezone: string;
  /** The next tick. */
  nextRunAt: Date;
  /** The last tick that started a run (a skipped tick leaves it). */
  lastRunAt?: Date;
  /** The run the last tick started. */
  lastRunId?: string;
  /** Ticks skipped because the previous run of the schedule was still in flight. */
  skipped: number;
}
