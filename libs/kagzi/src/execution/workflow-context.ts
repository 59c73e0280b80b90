import { LoggerService } from '@nestjs/common';
import { Duration } from '../common/duration';
import { UsageError } from '../errors/usage.error';
import type { WorkflowHandle } from '../client/workflow.handle';
import { Branch, ChildOptions, ParallelOutput, ParallelSettled, RaceOptions, RaceResult, WorkflowContext, WorkflowRef } from '../interfaces/workflow.interface';
import { executeChild, startChild } from './child-workflows';
import { continueAsNew } from './continue-as-new';
import { checkBranches, runParallel, runRace } from './branch-group';
import { recordedNow, recordedUuid } from './recorded-values';
import { RunExecution } from './run-execution';
import { RunScope, runScopeStorage } from './run-scope.storage';

/** The `ctx` a workflow's `run` receives; every call resolves the caller's scope from async context. */
export class WorkflowContextImpl implements WorkflowContext {
  constructor(private readonly execution: RunExecution) {}

  get runId(): string {
    return this.execution.runId;
  }

  get workflowName(): string {
    return this.execution.workflowName;
  }

  get version(): number {
    return this.execution.version;
  }

  /** Writes each line once, not once per replay; every line names the run (see ReplayLogger). */
  get logger(): LoggerService {
    return this.execution.workflowLogger;
  }

  get signal(): AbortSignal {
    return this.execution.cancel.controller.signal;
  }

  async nonCancellable<T>(fn: () => Promise<T>): Promise<T> {
    const scope = this.scope();
    if (scope.inStep) throw new UsageError('ctx.nonCancellable() was called inside a step body; call it from the workflow code around the steps to protect.');
    if (typeof fn !== 'function') throw new UsageError(`ctx.nonCancellable() expects a function, e.g. ctx.nonCancellable(() => this.refund(order)); got ${typeof fn}`);
    // Same path, so wrapping existing calls keeps their keys; no branch signal, so nothing aborts them but the run's stops.
    return runScopeStorage.run({ ...scope, shielded: true, branchSignal: undefined }, async () => fn());
  }

  sleep(duration: Duration): Promise<void> {
    return this.execution.sleep(this.scope(), duration);
  }

  waitForSignal<T = unknown>(name: string, options?: { timeout?: Duration }): Promise<T | undefined> {
    return this.execution.waitForSignal<T>(this.scope(), name, options);
  }

  startChild<I, O>(workflow: WorkflowRef<I, O>, input: I, options?: ChildOptions): Promise<WorkflowHandle<O>> {
    return startChild<O>(this.execution, this.scope(), workflow as WorkflowRef<unknown, O>, input, options);
  }

  executeChild<I, O>(workflow: WorkflowRef<I, O>, input: I, options?: ChildOptions): Promise<O> {
    return executeChild<O>(this.execution, this.scope(), workflow as WorkflowRef<unknown, O>, input, options);
  }

  continueAsNew(input: unknown): Promise<never> {
    return continueAsNew(this.execution, this.scope(), input);
  }

  setEvent(key: string, value: unknown): Promise<void> {
    return this.execution.setEvent(this.scope(), key, value);
  }

  now(): Promise<Date> {
    return recordedNow(this.execution, this.scope());
  }

  uuid(): Promise<string> {
    return recordedUuid(this.execution, this.scope());
  }

  parallel<const T extends readonly Branch[]>(branches: T, options?: { strategy?: 'fail-fast' }): Promise<ParallelOutput<T>>;
  parallel<const T extends readonly Branch[]>(branches: T, options: { strategy: 'collect-all' }): Promise<ParallelSettled<T>>;
  async parallel<const T extends readonly Branch[]>(
    branches: T,
    options: { strategy?: 'fail-fast' | 'collect-all' } = {},
  ): Promise<ParallelOutput<T> | ParallelSettled<T>> {
    checkBranches(branches, 'ctx.parallel()');
    const strategy = options?.strategy ?? 'fail-fast';
    if (strategy !== 'fail-fast' && strategy !== 'collect-all') {
      throw new UsageError(`ctx.parallel(): strategy must be 'fail-fast' or 'collect-all'; got ${JSON.stringify(strategy)}`);
    }
    return (await runParallel(this.execution, this.scope(), branches, strategy)) as ParallelOutput<T>;
  }

  async race<const T extends readonly Branch[]>(branches: T, options: RaceOptions = {}): Promise<RaceResult<T>> {
    checkBranches(branches, 'ctx.race()');
    const cancelLosers = options?.cancelLosers ?? true;
    if (typeof cancelLosers !== 'boolean') throw new UsageError(`ctx.race(): cancelLosers must be true or false; got ${JSON.stringify(cancelLosers)}`);
    return (await runRace(this.execution, this.scope(), branches, cancelLosers)) as RaceResult<T>;
  }

  private scope(): RunScope {
    const current = runScopeStorage.getStore();
    return current?.execution === this.execution ? current : { execution: this.execution, path: '', inStep: false };
  }
}
