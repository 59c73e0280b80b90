import { KagziError } from './kagzi.error';

/** No run has that id. */
export class RunNotFoundError extends KagziError {
  /** Always `'KAGZI_RUN_NOT_FOUND'`. */
  readonly code = 'KAGZI_RUN_NOT_FOUND';
}
