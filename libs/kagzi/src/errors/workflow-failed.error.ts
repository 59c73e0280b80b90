import { KagziError } from './kagzi.error';
import { StepError } from './step.error';

/** `handle.result()` rejects with this when the run failed; `error` keeps the step error's kind, message and code. */
export class WorkflowFailedError extends KagziError {
  readonly code = 'KAGZI_WORKFLOW_FAILED';

  constructor(
    readonly runId: string,
    readonly error: StepError,
  ) {
    super(`Workflow run ${runId} failed: [${error.kind}] ${error.message}`, { cause: error });
  }
}
