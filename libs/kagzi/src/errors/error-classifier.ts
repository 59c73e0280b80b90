import { HttpException } from '@nestjs/common';
import { ErrorKind, isErrorKind } from './error-kind';
import { StepError } from './step.error';
import { MAX_CAUSE_DEPTH } from '../common/limits';

export type ClassifyErrorHook = (err: unknown) => ErrorKind | undefined;

/** What the classifier decided: the kind, and a server-requested wait if the error carried one. */
export interface Classification {
  kind: ErrorKind;
  retryAfterMs?: number;
}

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/**
 * The one place that decides what kind of failure a thrown value is, in this order: the module's
 * `classifyError` hook; Kagzi's own error classes; HTTP status (Nest HttpException, `status`,
 * `statusCode`, `response.status`); Node network error codes; PostgreSQL SQLSTATE classes;
 * AbortError/TimeoutError; the same rules on the `cause` chain; else UNKNOWN (retryable).
 */
export function classifyError(err: unknown, hook?: ClassifyErrorHook): Classification {
  const fromHook = consult(hook, err);
  if (fromHook !== undefined && isErrorKind(fromHook)) return { kind: fromHook, retryAfterMs: retryAfterOf(err) };
  if (err instanceof StepError) return { kind: err.kind, retryAfterMs: err.retryAfterMs };
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < MAX_CAUSE_DEPTH; e = causeOf(e), depth++) {
    const found = classifyOne(e);
    if (found) return found;
  }
  return { kind: ErrorKind.Unknown };
}

/** The hook's answer; a hook that throws (a bug in it) counts as no answer, so the built-in rules decide. */
function consult(hook: ClassifyErrorHook | undefined, err: unknown): ErrorKind | undefined {
  try {
    return hook?.(err);
  } catch {
    return undefined;
  }
}

function classifyOne(err: unknown): Classification | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = httpStatusOf(err);
  if (status !== undefined) {
    const kind = kindOfStatus(status);
    if (kind) return { kind, retryAfterMs: kind === ErrorKind.RateLimited || kind === ErrorKind.ServiceUnavailable ? retryAfterOf(err) : undefined };
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return { kind: ErrorKind.NetworkError };
    const sqlKind = isPostgresError(err, code) ? kindOfSqlState(code) : undefined;
    if (sqlKind) return { kind: sqlKind };
  }
  const name = (err as { name?: unknown }).name;
  if (name === 'AbortError' || name === 'TimeoutError') return { kind: ErrorKind.Timeout };
  return undefined;
}

function kindOfStatus(status: number): ErrorKind | undefined {
  switch (status) {
    case 429:
      return ErrorKind.RateLimited;
    case 502:
    case 503:
    case 504:
      return ErrorKind.ServiceUnavailable;
    case 408:
      return ErrorKind.Timeout;
    case 400:
      return ErrorKind.InvalidInput;
    case 422:
      return ErrorKind.ValidationFailed;
    case 401:
    case 403:
      return ErrorKind.PermissionDenied;
    case 404:
      return ErrorKind.NotFound;
    default:
      return status >= 500 && status < 600 ? ErrorKind.Unknown : undefined;
  }
}

/** SQLSTATE classes: 08 connection, 40001/40P01 serialization failure and deadlock, 23 integrity, 57P0x shutdown. */
function kindOfSqlState(code: string): ErrorKind | undefined {
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return ErrorKind.DatabaseConnectionFailed;
  if (code === '40001' || code === '40P01') return ErrorKind.Unknown;
  if (code === '53300') return ErrorKind.ServiceUnavailable;
  if (code.startsWith('23')) return ErrorKind.ValidationFailed;
  return undefined;
}

/** pg's DatabaseError (and TypeORM's QueryFailedError, whose driverError is one) carry a 5-character SQLSTATE. */
function isPostgresError(err: object, code: string): boolean {
  return /^[0-9A-Z]{5}$/.test(code) && ('severity' in err || 'routine' in err || 'sqlState' in err || err.constructor?.name === 'DatabaseError');
}

function httpStatusOf(err: object): number | undefined {
  if (err instanceof HttpException) return err.getStatus();
  const candidates = [
    (err as { status?: unknown }).status,
    (err as { statusCode?: unknown }).statusCode,
    (err as { response?: { status?: unknown } }).response?.status,
  ];
  for (const c of candidates) if (typeof c === 'number' && c >= 100 && c < 600) return c;
  return undefined;
}

/** Retry-After as seconds or an HTTP date, from a header bag or an explicit `retryAfter` field. */
function retryAfterOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as {
    retryAfter?: unknown;
    headers?: unknown;
    response?: { headers?: unknown; retryAfter?: unknown };
    getResponse?: () => unknown;
  };
  const values: unknown[] = [e.retryAfter, headerOf(e.headers), headerOf(e.response?.headers), e.response?.retryAfter];
  if (err instanceof HttpException) {
    const body = err.getResponse();
    if (typeof body === 'object' && body !== null) values.push((body as { retryAfter?: unknown }).retryAfter);
  }
  for (const v of values) {
    const ms = parseRetryAfter(v);
    if (ms !== undefined) return ms;
  }
  return undefined;
}

function headerOf(headers: unknown): unknown {
  if (!headers || typeof headers !== 'object') return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(name: string): unknown }).get('retry-after');
  const bag = headers as Record<string, unknown>;
  return bag['retry-after'] ?? bag['Retry-After'];
}

export function parseRetryAfter(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function causeOf(err: unknown): unknown {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { cause?: unknown; driverError?: unknown };
  return e.driverError ?? e.cause;
}
