/** What went wrong in a step, stored as the SCREAMING_SNAKE string. */
export enum ErrorKind {
  /** A network failure (connection refused or reset, DNS): retried by default. */
  NetworkError = 'NETWORK_ERROR',
  /** The remote service is down or overloaded (HTTP 502, 503, 504; PostgreSQL's too many connections): retried by default. */
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
  /** Too many requests (HTTP 429): retried by default. */
  RateLimited = 'RATE_LIMITED',
  /** A time limit passed (HTTP 408, AbortError, TimeoutError, a step's `timeout`): retried by default. */
  Timeout = 'TIMEOUT',
  /** A database could not be reached (SQLSTATE class 08, server shutting down): retried by default. */
  DatabaseConnectionFailed = 'DATABASE_CONNECTION_FAILED',
  /** Data failed validation (HTTP 422, SQLSTATE class 23 integrity violations): not retried by default. */
  ValidationFailed = 'VALIDATION_FAILED',
  /** Something it needs does not exist (HTTP 404): not retried by default. */
  NotFound = 'NOT_FOUND',
  /** Not allowed (HTTP 401, 403): not retried by default. */
  PermissionDenied = 'PERMISSION_DENIED',
  /** The input is wrong (HTTP 400): not retried by default. */
  InvalidInput = 'INVALID_INPUT',
  /** A business rule said no (the default kind of a PermanentError): not retried by default. */
  BusinessLogicError = 'BUSINESS_LOGIC_ERROR',
  /** The run was cancelled: never retried. */
  Cancelled = 'CANCELLED',
  /** A replay did not match the recorded history: never retried, the run fails. */
  NonDeterminism = 'NON_DETERMINISM',
  /** Not classified (also HTTP 5xx not listed above, serialization failures and deadlocks): retried by default. */
  Unknown = 'UNKNOWN',
}

const RETRYABLE = new Set<ErrorKind>([
  ErrorKind.NetworkError,
  ErrorKind.ServiceUnavailable,
  ErrorKind.RateLimited,
  ErrorKind.Timeout,
  ErrorKind.DatabaseConnectionFailed,
  ErrorKind.Unknown,
]);

/** Whether errors of this kind are worth another attempt by default. */
export function isRetryableKind(kind: ErrorKind): boolean {
  return RETRYABLE.has(kind);
}

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && (Object.values(ErrorKind) as string[]).includes(value);
}
