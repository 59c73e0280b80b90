import { KagziError } from '../errors/kagzi.error';
import { MAX_CAUSE_DEPTH } from '../common/limits';

/**
 * Whether an error means "the database connection failed", as opposed to "the statement failed".
 * Only the first kind may be retried blindly: the server was unreachable, restarting, or dropped the
 * connection, and the same call can succeed once it is back.
 */

const SOCKET_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  // DNS: a database host that does not resolve yet is normal while a container platform starts it
  'ENOTFOUND', 'EAI_AGAIN',
]);

// pg raises these without a code: a socket that closed under a query, a pooled client whose socket had
// already died, or a connect that timed out.
const PG_MESSAGES = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
];


export function isConnectionFailure(err: unknown): boolean {
  // Kagzi's own errors are verdicts: a DatabaseUnavailableError already gave up retrying its cause.
  if (err instanceof KagziError) return false;
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < MAX_CAUSE_DEPTH; e = nextOf(e), depth++) {
    if (isOne(e)) return true;
    // net.connect to a name with several addresses (localhost: ::1 and 127.0.0.1) fails with an AggregateError
    if (e instanceof AggregateError && e.errors.some((inner) => isConnectionFailure(inner))) return true;
  }
  return false;
}

function isOne(err: object): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code)) return true;
    if (isSqlStateOfConnection(code, err)) return true;
  }
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && PG_MESSAGES.some((m) => m.test(message));
}

/**
 * Class 08 (connection exception); 57P01/57P02 (the server is shutting down or crashed and terminated the
 * session); 57P03 (starting up, in recovery); 57P05 (idle session timeout); 53300 (no connection slot
 * free). 55000 is a broad class, retried only as "database … is not currently accepting connections",
 * which a database closed for maintenance (`allow_connections false`) raises. 3D000 (no such database)
 * and 28xxx (authentication) are configuration errors and fail at once.
 */
function isSqlStateOfConnection(code: string, err: object): boolean {
  if (!/^[0-9A-Z]{5}$/.test(code)) return false;
  if (code.startsWith('08')) return true;
  if (code === '57P01' || code === '57P02' || code === '57P03' || code === '57P05' || code === '53300') return true;
  const message = (err as { message?: unknown }).message;
  return code === '55000' && typeof message === 'string' && /is not currently accepting connections/.test(message);
}

/** The wrapped error: `cause`, or TypeORM's `driverError` (QueryFailedError wraps pg's error there). */
function nextOf(err: object): unknown {
  const driverError = (err as { driverError?: unknown }).driverError;
  if (driverError !== undefined && driverError !== err) return driverError;
  return (err as { cause?: unknown }).cause;
}
