import { ErrorKind } from './error-kind';
import { StepError } from './step.error';

/**
 * `ctx.executeChild` rejects with this when the child run failed or was cancelled. It is a StepError of the
 * child's kind (so an uncaught one fails the parent like any step failure); `error` is the child's own.
 */
export class ChildWorkflowFailedError extends StepError {
  constructor(
    /** The child run that failed or was cancelled. */
    readonly childRunId: string,
    /** The child's own error. */
    readonly error: StepError,
  ) {
    super(`Child workflow run ${childRunId} failed: [${error.kind}] ${error.message}`, {
      kind: error.kind === ErrorKind.Cancelled ? ErrorKind.Cancelled : error.kind,
      code: 'KAGZI_CHILD_WORKFLOW_FAILED',
      cause: error,
    });
    this.retryable = false;
  }
}
