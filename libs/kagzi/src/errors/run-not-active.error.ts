import { KagziError } from './kagzi.error';

/** The run has ended (completed, failed or cancelled): it can no longer take signals. */
export class RunNotActiveError extends KagziError {
  readonly code = 'KAGZI_RUN_NOT_ACTIVE';
}
