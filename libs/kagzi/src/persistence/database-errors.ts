/**
 * What a failed statement says about the database, for the code that decides whether to try it again.
 * A connection failure may pass (the same statement succeeds once the server is back); a data error
 * never does (the same values are refused again).
 */

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EHOSTDOWN', 'EAI_AGAIN', 'ENOTFOUND',
]);
/** pg raises these as plain Errors without a code when a socket dies or a pool cannot connect in time. */
const CONNECTION_MESSAGES = /connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|connection error|server closed the connection/i;

function sqlStateOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The connection failed, not the statement: refused or reset sockets, SQLSTATE class 08, a server
 * shutting down or starting (57P01/57P02/57P03), too many connections (53300), a database that does
 * not accept connections right now (55000 at connect).
 */
export function isConnectionFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    const state = sqlStateOf(e);
    if (state && (state.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(state))) return true;
    if (state === '55000' && e instanceof Error && /accepting connections/i.test(e.message)) return true;
    if (!state && e instanceof Error && CONNECTION_MESSAGES.test(e.message)) return true;
    e = (e as { driverError?: unknown; cause?: unknown }).driverError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The values were refused (SQLSTATE class 22 data exception, 23 integrity violation): the same write fails again. */
export function isDataError(err: unknown): boolean {
  const state = sqlStateOf(err) ?? sqlStateOf((err as { driverError?: unknown } | null)?.driverError);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** SQLSTATE and message of a database error, for messages that name it. */
export function describeDatabaseError(err: unknown): string {
  const state = sqlStateOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return state ? `${message} (SQLSTATE ${state})` : message;
}
