import type { Logger } from '@nestjs/common';
import type { RunLogger } from './run-logger';
import type { StepTransactions } from '../persistence/step-transactions';
import type { ClassifyErrorHook } from '../errors/error-classifier';
import type { EventStore } from '../persistence/event.store';
import type { WorkflowHandle } from '../client/workflow.handle';
import { StepError } from '../errors/step.error';
import { WorkflowRef } from '../interfaces/workflow.interface';
import { StoredStepRow } from '../persistence/run.rows';
import { RunStore } from '../persistence/run.store';
import { SignalStore } from '../persistence/signal.store';
import { Lease, StepPlacement } from '../persistence/store.types';
import { PayloadSerializer } from './payload.serializer';
import { RetryPolicy } from './retry-policy';
import { RunFibers } from './run-fibers';
import { RunScope } from './run-scope.storage';
import type { RunCancel } from './run-cancel';

/** What a RunExecution is made with: the stores it writes through, the client, serializer, retry defaults, logger. */
export interface RunExecutionDeps {
  runs: RunStore;
  signals: SignalStore;
  /** The client's view of runs: child workflows resolve names and hand out handles through it. */
  client: { workflowName(workflow: WorkflowRef<unknown, unknown>): string; getHandle<O>(runId: string): WorkflowHandle<O> };
  events: EventStore;
  serializer: PayloadSerializer;
  classifyError?: ClassifyErrorHook;
  defaultRetry: RetryPolicy;
  logger: Logger;
  transactions: StepTransactions;
  /** Replay only (`replayRun`): the code runs against its records; the first call past them stops it, nothing is written or executed. */
  replay?: boolean;
}

/**
 * What the durable operations of a run (steps, sleeps, signal waits, events, children) use of the run
 * that executes them (RunExecution). Each operation names the part it needs with a Pick, so none of
 * them depends on RunExecution itself.
 */
export interface RunHost {
  readonly runId: string;
  readonly workflowName: string;
  readonly version: number;
  readonly lease: Lease;
  readonly fibers: RunFibers;
  /** A cancel of the run as its code receives it. */
  readonly cancel: Pick<RunCancel, 'known' | 'sleepEnded'>;
  /** The signal the operations of `scope` follow: the cancel outside `nonCancellable`, and the run's stops. */
  signalOf(scope: RunScope): AbortSignal;
  /** Rejects with the run's cancel where an operation of `scope` would start new work; undefined when no cancel is known. */
  cancelPoint(scope: RunScope): Promise<void> | undefined;
  readonly runs: RunStore;
  readonly signals: SignalStore;
  readonly serializer: PayloadSerializer;
  readonly defaultRetry: RetryPolicy;
  readonly logger: RunLogger;
  /** Transactions of `@Step({ transactional: true })` bodies. */
  readonly transactions: StepTransactions;
  /** Replay only: a call past the records stops the run there ({@link reachFrontier}) instead of executing. */
  readonly replaying: boolean;
  reachFrontier(what: string): never;
  /** Deterministic step key: scope path + name + call count in that scope. */
  nextKey(path: string, name: string): string;
  /** What an earlier execution recorded under `key`. */
  recorded(key: string): StoredStepRow | undefined;
  throwIfStopped(scope?: RunScope): void;
  toStepError(err: unknown, where: { stepName: string; attempt: number }): StepError;
  /** One write for the run, retried through a database blip while the run is held. */
  write<T>(what: string, fn: () => Promise<T>): Promise<T>;
  waitUntil(scope: RunScope, wakeAt: Date, what: string): Promise<void>;
  endOfTurn(scope: RunScope): Promise<void>;
  parkNow(due: Date, what: string, write: () => Promise<boolean>): Promise<never>;
  never(): Promise<never>;
  placement(scope: RunScope): StepPlacement;
  loseLease(why: string): never;
  failNonDeterministic(key: string, name: string, what: string): never;
  /** The newest signal id the run's last look at its signals could see. */
  noteSignalsSeen(count: number): void;
  /** `lookedAt`: the caller saw the run's signals up to that id just now (see signal-wait.ts). */
  waitForSignal<T>(scope: RunScope, name: string, options?: { timeout?: undefined }, lookedAt?: number): Promise<T | undefined>;
  nameOfWorkflow(workflow: WorkflowRef<unknown, unknown>): string;
  handleFor<O>(runId: string): WorkflowHandle<O>;
}

/**
 * The determinism check of a durable operation that finds a record at its key: the record must be of
 * its `kind` and carry its `name`, else the run fails with NON_DETERMINISM saying what is recorded there.
 * `what` describes an operation of the same kind under another name (e.g. `a wait for signal "x"`).
 */
export function expectRecorded(
  run: Pick<RunHost, 'failNonDeterministic'>,
  key: string,
  recorded: StoredStepRow,
  expected: { kind: StoredStepRow['kind']; name: string; what: (recordedName: string) => string },
): void {
  if (recorded.kind !== expected.kind) {
    const there = recorded.kind === 'STEP' ? `step "${recorded.step_name}"` : `${recorded.kind.toLowerCase()} "${recorded.step_name}"`;
    run.failNonDeterministic(key, expected.name, `a ${there} was recorded there`);
  }
  if (recorded.step_name !== expected.name) run.failNonDeterministic(key, expected.name, `${expected.what(recorded.step_name)} was recorded there`);
}
