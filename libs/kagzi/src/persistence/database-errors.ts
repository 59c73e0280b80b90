/**
 * Data errors: the database refused the values of a statement. Unlike a connection failure
 * (connection-failure.ts), the same write is refused again however often it is tried.
 */

function sqlStateOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** SQLSTATE class 22 (data exception: NUL in jsonb, out of range, too long) or 23 (integrity violation). */
export function isDataError(err: unknown): boolean {
  const state = sqlStateOf(err) ?? sqlStateOf((err as { driverError?: unknown } | null)?.driverError);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** A deadlock (40P01) or serialization (40001) victim: the statement did nothing, and may be tried again. */
export function isTransactionConflict(err: unknown): boolean {
  const state = sqlStateOf(err) ?? sqlStateOf((err as { driverError?: unknown } | null)?.driverError);
  return state === '40P01' || state === '40001';
}

/** Message and SQLSTATE of a database error, for messages that name it. */
export function describeDatabaseError(err: unknown): string {
  const state = sqlStateOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return state ? `${message} (SQLSTATE ${state})` : message;
}
