/** `handle.result()` rejects with this when the run was cancelled. */
export class WorkflowCancelledError extends Error {
  readonly code = 'KAGZI_WORKFLOW_CANCELLED';

  constructor(
    readonly runId: string,
    readonly reason?: string,
  ) {
    super(`Workflow run ${runId} was cancelled${reason ? `: ${reason}` : ''}`);
    this.name = 'WorkflowCancelledError';
  }
}
