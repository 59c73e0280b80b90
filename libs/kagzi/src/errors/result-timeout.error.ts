import { KagziError } from './kagzi.error';

/** handle.result({ timeout }) gave up before the run finished; the run itself goes on. */
export class ResultTimeoutError extends KagziError {
  /** Always `'KAGZI_RESULT_TIMEOUT'`. */
  readonly code = 'KAGZI_RESULT_TIMEOUT';
}
