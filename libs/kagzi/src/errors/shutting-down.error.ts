import { KagziError } from './kagzi.error';

/** The application is closing: pending `result()` calls are released instead of hanging. */
export class ShuttingDownError extends KagziError {
  /** Always `'KAGZI_SHUTTING_DOWN'`. */
  readonly code = 'KAGZI_SHUTTING_DOWN';
}
