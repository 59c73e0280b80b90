import { Duration } from '../common/duration';
import { UsageError } from '../errors/usage.error';
import { Branch, ParallelOutput, ParallelSettled, RaceResult, WorkflowContext } from '../interfaces/workflow.interface';
import { checkBranches, runParallel, runRace } from './branch-group';
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

  get signal(): AbortSignal {
    return this.execution.controller.signal;
  }

  sleep(duration: Duration): Promise<void> {
    return this.execution.sleep(this.scope(), duration);
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

  async race<const T extends readonly Branch[]>(branches: T): Promise<RaceResult<T>> {
    checkBranches(branches, 'ctx.race()');
    return (await runRace(this.execution, this.scope(), branches)) as RaceResult<T>;
  }

  private scope(): RunScope {
    const current = runScopeStorage.getStore();
    return current?.execution === this.execution ? current : { execution: this.execution, path: '', inStep: false };
  }
}
