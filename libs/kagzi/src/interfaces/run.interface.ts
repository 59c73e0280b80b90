import type { EntityManager } from 'typeorm';
import { Duration } from '../common/duration';
import { SerializedStepError } from '../errors/step.error';

/** WAITING: parked on a signal (possibly with a timeout), slot freed, like SLEEPING is for time alone. */
export type RunStatus = 'PENDING' | 'RUNNING' | 'SLEEPING' | 'WAITING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

export const RUN_STATUSES: readonly RunStatus[] = ['PENDING', 'RUNNING', 'SLEEPING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED'];
export const TERMINAL_STATUSES: readonly RunStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

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

export interface StepAttempt {
  /** 1, 2, … within its try: a retried run's step starts a fresh series. */
  attempt: number;
  /** Which try of the run the attempt belongs to: 1 until the run is retried (`client.retry`). */
  runTry: number;
  startedAt: Date;
  finishedAt?: Date;
  error?: SerializedStepError;
}

/** What a recorded entry of a run is: a step call, a durable sleep, a parallel group, a signal wait, an event set, a child started. */
export type StepKind = 'STEP' | 'SLEEP' | 'GROUP' | 'SIGNAL' | 'EVENT' | 'CHILD';

export interface StepDetails {
  key: string;
  name: string;
  kind: StepKind;
  /** RUNNING: in progress (a step between attempts, a sleep not yet over, a group with branches going). */
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  /** When its first attempt (the sleep, the group, the wait) started, and when it ended. */
  startedAt: Date;
  completedAt?: Date;
  /** Inside `ctx.parallel`/`ctx.race`: the key of the innermost group, and the branch (its index) within it. */
  group?: string;
  branch?: string;
  output?: unknown;
  error?: SerializedStepError;
  attempts: StepAttempt[];
}

export interface RunDetails {
  runId: string;
  workflowName: string;
  version: number;
  status: RunStatus;
  input: unknown;
  output?: unknown;
  error?: SerializedStepError;
  createdAt: Date;
  updatedAt: Date;
  completedAt?: Date;
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

export interface RunRetry {
  at: Date;
  previousStatus: 'FAILED' | 'CANCELLED';
  previousError?: SerializedStepError;
}

export interface SignalDetails {
  name: string;
  payload: unknown;
  sentAt: Date;
  consumedAt?: Date;
}

export interface RunSummary {
  runId: string;
  workflowName: string;
  version: number;
  status: RunStatus;
  idempotencyKey?: string;
  createdAt: Date;
  updatedAt: Date;
  completedAt?: Date;
}

export interface RunFilter {
  /** Workflow name. */
  name?: string;
  version?: number;
  status?: RunStatus | RunStatus[];
  createdAfter?: Date;
  createdBefore?: Date;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

export interface WorkflowVersionInfo {
  name: string;
  version: number;
  /** The version start() uses without options.version. */
  isDefault: boolean;
  deprecated: boolean;
  deprecatedAt?: Date;
  registeredAt: Date;
  lastSeenAt: Date;
  /** Some live worker serves it; false with runs in flight means stranded work. */
  served: boolean;
  /** Runs in flight (PENDING, RUNNING, SLEEPING, WAITING) per status. */
  runs: Partial<Record<RunStatus, number>>;
}

export interface WorkerInfo {
  name: string;
  hostname: string;
  pid: number;
  /** LOST: stopped heartbeating (a live row whose heartbeat is older than 3 of its intervals reads LOST too). */
  status: 'RUNNING' | 'DRAINING' | 'STOPPED' | 'LOST';
  startedAt: Date;
  lastHeartbeatAt: Date;
  concurrency: number;
  activeRuns: number;
  /** The (name, version) pairs it serves, as `name@version`. */
  workflows: string[];
}

/** A workflow's cron schedule (`@Workflow({ schedule })`), as `client.listSchedules()` shows it. */
export interface ScheduleInfo {
  workflowName: string;
  /** The workflow's default version: the schedule it declares is the one that ticks, and starts runs of it. */
  version: number;
  cron: string;
  timezone: string;
  nextRunAt: Date;
  lastRunAt?: Date;
  lastRunId?: string;
  /** Ticks skipped because the previous run of the schedule was still in flight. */
  skipped: number;
}
