import { KagziError } from './kagzi.error';

/** `handle.result()` rejects with this when the run was cancelled; `reason` is the one given to `cancel()`. */
export class WorkflowCancelledError extends KagziError {
  readonly code = 'KAGZI_WORKFLOW_CANCELLED';

  constructor(
    readonly runId: string,
    readonly reason?: string,
  ) {
    super(`Workflow run ${runId} was cancelled${reason ? `: ${reason}` : ''}`);
  }
}
