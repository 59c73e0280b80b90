import { KagziError } from './kagzi.error';

/** `client.retry()` of a run that is not FAILED or CANCELLED; `status` is the one it has. */
export class RunNotRetryableError extends KagziError {
  readonly code = 'KAGZI_RUN_NOT_RETRYABLE';

  constructor(
    readonly runId: string,
    readonly status: string,
  ) {
    super(`Run ${runId} is ${status}: only a FAILED or CANCELLED run can be retried${status === 'COMPLETED' ? '' : '; wait for it to end, or cancel it first'}`);
  }
}
