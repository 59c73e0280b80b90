import { Duration } from '../common/duration';
import { WorkflowContext } from '../interfaces/workflow.interface';
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

  private scope(): RunScope {
    const current = runScopeStorage.getStore();
    return current?.execution === this.execution ? current : { execution: this.execution, path: '', inStep: false };
  }
}
