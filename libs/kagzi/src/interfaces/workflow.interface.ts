import { LoggerService, Type } from '@nestjs/common';
import { Duration } from '../common/duration';
import type { WorkflowHandle } from '../client/workflow.handle';
import { StepError } from '../errors/step.error';

/** The execution context a workflow's `run` receives. */
export interface WorkflowContext {
  /** The run's id. */
  readonly runId: string;
  /** The workflow's registered name. */
  readonly workflowName: string;
  /** The version the run is pinned to. */
  readonly version: number;
  /** Aborted when a cancel is delivered, on drain timeout, and when this worker loses the run's lease. */
  readonly signal: AbortSignal;
  /**
   * A Nest logger for workflow code that writes each line once — not again when the run replays its
   * history after a park or a crash — with the run id, workflow and version in every line.
   */
  readonly logger: LoggerService;
  /** Durable sleep: survives restarts and frees the worker slot while it waits. */
  sleep(duration: Duration): Promise<void>;
  /**
   * Durable: consumes the oldest unconsumed signal of `name` (signals sent before the wait are kept, in
   * order); the run parks (WAITING) until one arrives. `undefined` only on timeout. A replay returns the
   * same payload and never consumes a second signal.
   */
  waitForSignal<T = unknown>(name: string, options?: { timeout?: Duration }): Promise<T | undefined>;
  /** Starts a child run (recorded like a step: a replay never starts a second one) and returns its handle. */
  startChild<I, O>(workflow: WorkflowRef<I, O>, input: I, options?: ChildOptions): Promise<WorkflowHandle<O>>;
  /**
   * startChild + a durable wait for the child's end: the parent parks (WAITING) and is woken by the
   * child's end; resolves with its output or rejects with ChildWorkflowFailedError.
   */
  executeChild<I, O>(workflow: WorkflowRef<I, O>, input: I, options?: ChildOptions): Promise<O>;
  /**
   * Durable: stores `value` as the latest value of event `key` for clients to read (`client.getEvent`),
   * recorded like a step, so a replay writes nothing again; a later set of the same key overwrites it.
   * An undefined value is stored as null. Not inside a step body.
   */
  setEvent(key: string, value: unknown): Promise<void>;
  /** The current time, read once and recorded: every replay returns the same Date. Not inside a step body. */
  now(): Promise<Date>;
  /** A random UUID, drawn once and recorded: every replay returns the same one. Not inside a step body. */
  uuid(): Promise<string>;
  /**
   * Runs the branches concurrently, each in a scope of its own. `fail-fast` (default) rejects with the
   * first failure and aborts the other branches; `collect-all` resolves with a Settled per branch.
   */
  parallel<const T extends readonly Branch[]>(branches: T, options?: { strategy?: 'fail-fast' }): Promise<ParallelOutput<T>>;
  /** `collect-all`: waits for every branch and resolves with a {@link Settled} per branch, in order. */
  parallel<const T extends readonly Branch[]>(branches: T, options: { strategy: 'collect-all' }): Promise<ParallelSettled<T>>;
  /** Either strategy, chosen at run time: the result is a {@link ParallelOutput} or a {@link ParallelSettled}. */
  parallel<const T extends readonly Branch[]>(
    branches: T,
    options?: { strategy?: 'fail-fast' | 'collect-all' },
  ): Promise<ParallelOutput<T> | ParallelSettled<T>>;
  /**
   * Settles as the first branch to settle; the winner is recorded, so every replay has the same one.
   * The losers are aborted, unless `cancelLosers: false` lets them run on to their end.
   */
  race<const T extends readonly Branch[]>(branches: T, options?: RaceOptions): Promise<RaceResult<T>>;
  /**
   * Runs `fn` shielded from a cancel of the run: its steps, sleeps, signal waits and children run as
   * usual after a cancel (compensation). Outside it, a cancel rejects every durable operation that has
   * not already completed with a WorkflowCancelledError (the one pending when the cancel came, and
   * every later one); after the workflow returns or throws, the run ends CANCELLED. Keys are those the
   * calls would have without it, so wrapping existing calls is replay-safe.
   */
  nonCancellable<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Ends this run COMPLETED (its `continuedAs` the new run's id) and starts the same workflow and
   * version afresh with `input` and an empty history, in one statement: long loops without an
   * unbounded history. `result()` of any run in the chain follows it to the last run's outcome.
   * Never resolves: the code after it does not run.
   */
  continueAsNew(input: unknown): Promise<never>;
}

/** Options of `ctx.race`. */
export interface RaceOptions {
  /** Abort the branches that did not win (default true); with false they keep running and their steps are recorded. */
  cancelLosers?: boolean;
}

/** A branch of `ctx.parallel` / `ctx.race`: a function that may call any number of steps. */
export type Branch<V = unknown> = () => Promise<V>;

/**
 * The value a branch resolves with.
 * @inline
 */
type BranchValue<F> = F extends () => Promise<infer V> ? V : never;

/** A tuple of branches gives a tuple of their values; an array gives an array. */
export type ParallelOutput<T extends readonly Branch[]> = { -readonly [K in keyof T]: BranchValue<T[K]> };

/** What `ctx.parallel(…, { strategy: 'collect-all' })` resolves with: a {@link Settled} per branch, in order. */
export type ParallelSettled<T extends readonly Branch[]> = { -readonly [K in keyof T]: Settled<BranchValue<T[K]>> };

/** What `ctx.race` resolves with: the winning branch's index and value. */
export type RaceResult<T extends readonly Branch[]> = {
  /** The winner's index in the branches passed. */
  index: number;
  /** The winner's value. */
  value: BranchValue<T[number]>;
};

/** What a `@Workflow` class implements. */
export interface WorkflowDefinition<I = unknown, O = unknown> {
  /** The workflow's code: called with the run's input and context, on every execution (a replay re-runs it against the recorded history). */
  run(input: I, ctx: WorkflowContext): Promise<O>;
}

/** A workflow named by its registered name or by its class. */
export type WorkflowRef<I = unknown, O = unknown> = string | Type<WorkflowDefinition<I, O>>;

/** How one branch of `ctx.parallel(…, { strategy: 'collect-all' })` ended: its value, or its error. */
export type Settled<T> =
  | {
      /** The branch resolved. */
      status: 'fulfilled';
      /** Its value. */
      value: T;
    }
  | {
      /** The branch failed. */
      status: 'rejected';
      /** Its error, as a StepError. */
      error: StepError;
    };

/** Options of `ctx.startChild` / `ctx.executeChild`. */
export interface ChildOptions {
  /** Pin the child to this version; default: the child workflow's default version. */
  version?: number;
  /** Default: derived from the parent run and the call's step key. */
  idempotencyKey?: string;
  /** What cancelling the parent does to the child: 'cancel' (default) cancels it too, 'abandon' lets it run. */
  onParentClose?: 'cancel' | 'abandon';
}
