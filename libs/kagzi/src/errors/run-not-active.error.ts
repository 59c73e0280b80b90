import { KagziError } from './kagzi.error';

/** The run has ended (completed, failed or cancelled): it can no longer take signals. */
export class RunNotActiveError extends KagziError {
  /** Always `'KAGZI_RUN_NOT_ACTIVE'`. */
  readonly code = 'KAGZI_RUN_NOT_ACTIVE';
}
