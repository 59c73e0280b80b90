import { ErrorKind } from './error-kind';
import { KagziError } from './kagzi.error';
import { StepError } from './step.error';

/** `handle.result()` rejects with this when the run was cancelled; `reason` is the one given to `cancel()`. */
export class WorkflowCancelledError extends KagziError {
  /** Always `'KAGZI_WORKFLOW_CANCELLED'`. */
  readonly code = 'KAGZI_WORKFLOW_CANCELLED';

  constructor(
    /** The run that was cancelled. */
    readonly runId: string,
    /** The reason given to `cancel()`, if any. */
    readonly reason?: string,
  ) {
    super(`Workflow run ${runId} was cancelled${reason ? `: ${reason}` : ''}`);
  }
}

/** The error a cancelled run stores: kind CANCELLED, the reason as its message, not retryable. */
export function cancelStepError(reason?: string): StepError {
  const error = new StepError(reason ?? 'cancelled', { kind: ErrorKind.Cancelled });
  error.retryable = false;
  return error;
}
