import { KagziError } from './kagzi.error';

/**
 * Kagzi could not reach its PostgreSQL: a client call kept failing with connection errors for longer
 * than `reconnectTimeout`, or the boot used up `retryAttempts`. `cause` is the last connection error.
 */
export class DatabaseUnavailableError extends KagziError {
  /** Always `'KAGZI_DATABASE_UNAVAILABLE'`. */
  readonly code = 'KAGZI_DATABASE_UNAVAILABLE';
}
