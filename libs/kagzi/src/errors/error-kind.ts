/** What went wrong in a step, stored as the SCREAMING_SNAKE string. */
export enum ErrorKind {
  NetworkError = 'NETWORK_ERROR',
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
  RateLimited = 'RATE_LIMITED',
  Timeout = 'TIMEOUT',
  DatabaseConnectionFailed = 'DATABASE_CONNECTION_FAILED',
  ValidationFailed = 'VALIDATION_FAILED',
  NotFound = 'NOT_FOUND',
  PermissionDenied = 'PERMISSION_DENIED',
  InvalidInput = 'INVALID_INPUT',
  BusinessLogicError = 'BUSINESS_LOGIC_ERROR',
  Cancelled = 'CANCELLED',
  NonDeterminism = 'NON_DETERMINISM',
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
