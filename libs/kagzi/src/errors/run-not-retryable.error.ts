import { KagziError } from './kagzi.error';

/** `client.retry()` of a run that is not FAILED or CANCELLED; `status` is the one it has. */
export class RunNotRetryableError extends KagziError {
  /** Always `'KAGZI_RUN_NOT_RETRYABLE'`. */
  readonly code = 'KAGZI_RUN_NOT_RETRYABLE';

  constructor(
    /** The run that was asked to retry. */
    readonly runId: string,
    /** The status it has (not FAILED or CANCELLED). */
    readonly status: string,
  ) {
    super(`Run ${runId} is ${status}: only a FAILED or CANCELLED run can be retried${status === 'COMPLETED' ? '' : '; wait for it to end, or cancel it first'}`);
  }
}
