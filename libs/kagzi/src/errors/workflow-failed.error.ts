import { KagziError } from './kagzi.error';
import { StepError } from './step.error';

/** `handle.result()` rejects with this when the run failed; `error` keeps the step error's kind, message and code. */
export class WorkflowFailedError extends KagziError {
  /** Always `'KAGZI_WORKFLOW_FAILED'`. */
  readonly code = 'KAGZI_WORKFLOW_FAILED';

  constructor(
    /** The run that failed. */
    readonly runId: string,
    /** The error the run failed with: its kind, message, code, context and cause. */
    readonly error: StepError,
  ) {
    super(`Workflow run ${runId} failed: [${error.kind}] ${error.message}`, { cause: error });
  }
}
