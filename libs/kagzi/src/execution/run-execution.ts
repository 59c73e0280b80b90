import type { WorkflowHandle } from '../client/workflow.handle';
import { WorkflowRef } from '../interfaces/workflow.interface';
import { Duration } from '../common/duration';
import { StepError } from '../errors/step.error';
import { toStepError } from '../errors/step-error.serializer';
import { RunStore } from '../persistence/run.store';
import { Lease, StepPlacement } from '../persistence/store.types';
import { StoredStepRow } from '../persistence/run.rows';
import { SignalStore } from '../persistence/signal.store';
import { PayloadSerializer } from './payload.serializer';
import { RetryPolicy } from './retry-policy';
import { RunFibers } from './run-fibers';
import { RunExecutionDeps, RunHost } from './run-host';
import { RunScope, runScopeStorage } from './run-scope.storage';
import { pathOfKey, ReplayLogger } from './replay-logger';
import { ExecutionStop, RunStop } from './run-stop';
import { RunCancel } from './run-cancel';
import { RunWriter } from './run-writer';
import { RunLogger } from './run-logger';
import type { StepTransactions } from '../persistence/step-transactions';
import { durableSleep } from './durable-sleep';
import { waitForSignal } from './signal-wait';
import { setRunEvent } from './run-event';
import { StepDefinition } from './step-definition';
import { StepExecutor } from './step.executor';
import { recordLeaseLost } from '../metrics/run.metrics';

export type { ExecutionStop } from './run-stop';
export type { RunExecutionDeps } from './run-host';

/**
 * One claimed run in this worker: its lease, the steps recorded so far, the step-key counters, and
 * the waits (durable sleeps, retry back-offs) that park it. Every write goes through the lease; a
 * refused write stops the execution locally. Step calls are executed by {@link StepExecutor}.
 */
export class RunExecution implements RunHost {
  private readonly counters = new Map<string, number>();
  /** The newest signal id the last look could see: a park on a signal wait compares the run's newest with it. */
  private signalsSeen = 0;
  /** Strands of this run's code that can progress; parks the run when none can. */
  readonly fibers: RunFibers;
  readonly runs: RunStore;
  readonly signals: SignalStore;
  readonly serializer: PayloadSerializer;
  readonly defaultRetry: RetryPolicy;
  /** The library's log lines about this run, each with its run id, workflow and version as fields. */
  readonly logger: RunLogger;
  /** `ctx.logger`: writes each line once, not once per replay (see ReplayLogger). */
  readonly workflowLogger: ReplayLogger;
  private readonly stop: RunStop;
  /** A cancel of the run as its code receives it. */
  readonly cancel: RunCancel;
  private readonly writer: RunWriter;
  private readonly steps: StepExecutor;

  constructor(
    readonly lease: Lease,
    readonly workflowName: string,
    readonly version: number,
    private readonly stored: Map<string, StoredStepRow>,
    private readonly deps: RunExecutionDeps,
  ) {
    ({ runs: this.runs, signals: this.signals, serializer: this.serializer, defaultRetry: this.defaultRetry } = deps);
    this.logger = new RunLogger(deps.logger, { runId: lease.runId, workflowName, version });
    this.workflowLogger = new ReplayLogger(`Run ${lease.runId} (${workflowName} v${version}): `, workflowName, () => this.stored.size > 0, () => runScopeStorage.getStore()?.path ?? '');
    this.fibers = new RunFibers((due, forSignal) => this.parkWhenIdle(due, forSignal));
    this.stop = new RunStop(lease.runId, () => this.fibers.dispose());
    this.cancel = new RunCancel(lease.runId, this.stop.controller.signal, {
      // Not while the run is being parked (the park makes it due at once, see cancel-pending.sql.ts) or stopped here.
      mayDeliver: () => !this.stop.reason && !this.fibers.parking,
      hold: () => this.fibers.hold(),
      store: async (cutAt) => {
        const delivered = await this.writer.write('delivering a cancel', () => this.deps.runs.deliverCancel(this.lease, cutAt));
        if (!delivered && !this.stop.reason) this.loseLease('its cancel could not be delivered');
        return delivered;
      },
    });
    this.writer = new RunWriter(lease.runId, this.stop, this.logger, deps.replay === true);
    this.steps = new StepExecutor(this);
  }

  get runId(): string {
    return this.lease.runId;
  }

  signalOf(scope: RunScope): AbortSignal {
    return this.cancel.signalOf(scope);
  }
  cancelPoint(scope: RunScope): Promise<void> | undefined {
    return this.cancel.known ? this.cancel.point(scope) : undefined;
  }

  /** Settles when the execution stops before the workflow returns (parked, lost, failed fatally, continued). */
  get stopped(): Promise<ExecutionStop> {
    return this.stop.stopped;
  }
  get stopReason(): ExecutionStop | undefined {
    return this.stop.reason;
  }

  noteSignalsSeen(count: number): void {
    this.signalsSeen = count;
  }

  waitForSignal<T>(scope: RunScope, name: string, options?: { timeout?: Duration }, lookedAt?: number): Promise<T | undefined> {
    return waitForSignal<T>(this, scope, name, options, lookedAt);
  }

  nameOfWorkflow(workflow: WorkflowRef<unknown, unknown>): string {
    return this.deps.client.workflowName(workflow);
  }

  handleFor<O>(runId: string): WorkflowHandle<O> {
    return this.deps.client.getHandle<O>(runId);
  }

  /** The run ended here by continuing as `nextRunId`: its other strands stop. */
  continued(nextRunId: string): void {
    this.stop.finish({ kind: 'continued', nextRunId });
  }

  setEvent(scope: RunScope, key: string, value: unknown): Promise<void> {
    return setRunEvent(this, this.deps.events, scope, key, value);
  }

  /** What earlier executions of the run recorded (before the workflow code starts): as claimed, or loaded now. */
  async restore(claimed?: StoredStepRow[]): Promise<void> {
    const steps = claimed ?? (await this.write('loading its recorded steps', () => this.deps.runs.loadSteps(this.runId)));
    for (const step of steps) this.stored.set(step.step_key, step);
  }

  /** Deterministic step key: scope path + step name + how often that name was called in that scope. */
  nextKey(path: string, name: string): string {
    const counterKey = `${path}\u0000${name}`;
    const n = (this.counters.get(counterKey) ?? 0) + 1;
    this.counters.set(counterKey, n);
    return `${path}${name}#${n}`;
  }

  runStep<T>(scope: RunScope, def: StepDefinition, body: () => unknown, args: readonly unknown[]): Promise<T> {
    return this.steps.call<T>(scope, def, body, args);
  }

  /** A thrown value as the StepError the workflow sees, classified with the module's hook. */
  toStepError(err: unknown, where: { stepName: string; attempt: number }): StepError {
    return toStepError(err, where, this.deps.classifyError);
  }

  sleep(scope: RunScope, duration: Duration): Promise<void> {
    return durableSleep(this, scope, duration);
  }

  /** The stored record under `key`, if any (steps, sleeps and group decisions). */
  recorded(key: string): StoredStepRow | undefined {
    const row = this.stored.get(key);
    this.workflowLogger.decided(pathOfKey(key), row !== undefined);
    return row;
  }

  /** Throws if the run (or the branch of `scope`) was stopped: no new work may start. */
  throwIfStopped(scope?: RunScope): void {
    this.stop.throwIfStopped(scope?.branchSignal);
  }

  /** Stop from outside (cancel, drain timeout, lease not renewable): abort the signal; later writes are fenced anyway. */
  abort(reason: string): void {
    this.stop.abandon(reason);
  }

  /** One write for the run, retried through a database blip while the run is held (see {@link RunWriter}). */
  write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const barrier = this.cancel.barrier;
    return barrier ? barrier.then(() => this.writer.write(what, fn)) : this.writer.write(what, fn);
  }

  /** Waits until `wakeAt` with nothing to record: parks the run if nothing else can progress. */
  async waitUntil(scope: RunScope, wakeAt: Date, what: string): Promise<void> {
    await this.endOfTurn(scope);
    if (this.fibers.canPark()) {
      const due = this.fibers.earliest(wakeAt);
      return this.parkNow(due, what, () => this.deps.runs.parkRun(this.lease, due));
    }
    await this.fibers.block(wakeAt, this.signalOf(scope));
  }

  /**
   * This strand is the last one that could progress and must wait: park the run until `due` in one
   * fenced write (lease released, worker slot freed). The promise never settles: the run resumes
   * by replay in whichever worker claims it next.
   */
  async parkNow(due: Date, what: string, write: () => Promise<boolean>): Promise<never> {
    this.fibers.startParking();
    const parked = await this.write(what, write);
    if (!parked) this.loseLease(`the run was cancelled or claimed by another worker before ${what}`);
    this.stop.finish({ kind: 'suspended', wakeAt: due });
    return this.never();
  }

  /** Resolves after this turn of the event loop (see RunFibers.settle); a run being parked meanwhile starts nothing more. */
  async endOfTurn(scope: RunScope): Promise<void> {
    await this.fibers.settle();
    this.throwIfStopped(scope);
    await this.cancelPoint(scope);
    if (this.fibers.parking) await this.never();
  }

  /** This strand stops here for good: the run is being parked and resumes by replay wherever it is claimed next. */
  never(): Promise<never> {
    return new Promise<never>(() => undefined);
  }

  /** Where a record made in `scope` belongs: the innermost group and branch (nothing at the top level). */
  placement(scope: RunScope): StepPlacement {
    return scope.group === undefined ? {} : { group: scope.group, branch: scope.branch };
  }

  get transactions(): StepTransactions {
    return this.deps.transactions;
  }

  /** Replay only (`replayRun`): nothing past the records is executed or written. */
  get replaying(): boolean {
    return this.deps.replay === true;
  }
  reachFrontier(what: string): never {
    return this.stop.reachFrontier(what);
  }

  failNonDeterministic(key: string, name: string, what: string): never {
    return this.stop.failNonDeterministic(key, name, what);
  }
  loseLease(why: string): never {
    recordLeaseLost(this.lease);
    return this.stop.loseLease(why, this.logger);
  }

  /** Every strand is blocked (asleep, backing off, waiting for a signal): park until the earliest wake-up. */
  private parkWhenIdle(due: Date, forSignal: boolean): void {
    void (async () => {
      const park = (): Promise<boolean> => (forSignal ? this.deps.signals.park(this.lease, due, this.signalsSeen) : this.deps.runs.parkRun(this.lease, due));
      const parked = await this.write('parking the run', park);
      if (!parked) this.loseLease('the run was cancelled or claimed by another worker before it could be parked');
      this.stop.finish({ kind: 'suspended', wakeAt: due });
    })().catch(() => undefined); // a refused write has already stopped the run
  }
}
