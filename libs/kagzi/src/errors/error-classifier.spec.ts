/**
 * Error classification (SPEC "Errors and retries", in the order: hook, Kagzi's classes, HTTP
 * status, Node network codes, PostgreSQL SQLSTATE, AbortError/TimeoutError, else UNKNOWN) and the
 * StepError wire format (toStepError / serializeStepError / rehydrateStepError). Pure: no database.
 */
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BadGatewayException,
  BadRequestException,
  ConflictException,
  ForbiddenException,
  GatewayTimeoutException,
  HttpException,
  HttpStatus,
  InternalServerErrorException,
  NotFoundException,
  RequestTimeoutException,
  ServiceUnavailableException,
  UnauthorizedException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { DatabaseError } from 'pg';
import { QueryFailedError } from 'typeorm';
import { classifyError, ClassifyErrorHook, parseRetryAfter } from './error-classifier';
import { ErrorKind, isRetryableKind } from './error-kind';
import { rehydrateStepError, serializeStepError, toStepError } from './step-error.serializer';
import { PermanentError, SerializedStepError, StepError, TransientError } from './step.error';

const kindOf = (err: unknown, hook?: ClassifyErrorHook): ErrorKind => classifyError(err, hook).kind;
const where = { stepName: 'Payments.charge', attempt: 2 };

/** An Error carrying a Node-style `code`, like what `net`/`dns`/`http` emit. */
function nodeError(code: string, message = `connect ${code} 10.0.0.1:443`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, errno: -1, syscall: 'connect' });
}

/** pg's DatabaseError as the driver builds it. */
function pgError(code: string, message = `SQLSTATE ${code}`): DatabaseError {
  return Object.assign(new DatabaseError(message, message.length, 'error'), { code, severity: 'ERROR' });
}

/** A free TCP port on 127.0.0.1 (listened on, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// -------------------------------------------------------------------------------------------------
// Rule 1: the module's classifyError hook
// -------------------------------------------------------------------------------------------------

describe('the classifyError hook', () => {
  class QuotaExceeded extends Error {}
  const hook: ClassifyErrorHook = (err) => (err instanceof QuotaExceeded ? ErrorKind.RateLimited : undefined);

  it('decides the kind of what it recognises, and receives the thrown value itself', () => {
    const thrown = new QuotaExceeded('quota');
    const seen: unknown[] = [];
    expect(kindOf(thrown, (e) => (seen.push(e), hook(e)))).toBe(ErrorKind.RateLimited);
    expect(seen).toEqual([thrown]);
    expect(seen[0]).toBe(thrown);
  });

  it('is consulted before every built-in rule', () => {
    const always: ClassifyErrorHook = () => ErrorKind.BusinessLogicError;
    expect(kindOf(new NotFoundException(), always)).toBe(ErrorKind.BusinessLogicError);
    expect(kindOf({ status: 503 }, always)).toBe(ErrorKind.BusinessLogicError);
    expect(kindOf(nodeError('ECONNRESET'), always)).toBe(ErrorKind.BusinessLogicError);
    expect(kindOf(pgError('08006'), always)).toBe(ErrorKind.BusinessLogicError);
    expect(kindOf(new DOMException('t', 'TimeoutError'), always)).toBe(ErrorKind.BusinessLogicError);
    expect(kindOf(new TransientError('x', { kind: ErrorKind.NetworkError }), always)).toBe(ErrorKind.BusinessLogicError);
  });

  it('falls through to the built-in rules when it returns undefined', () => {
    expect(kindOf(new NotFoundException(), hook)).toBe(ErrorKind.NotFound);
    expect(kindOf(nodeError('ECONNRESET'), hook)).toBe(ErrorKind.NetworkError);
    expect(kindOf(new Error('plain'), hook)).toBe(ErrorKind.Unknown);
  });

  it('ignores an answer that is not an ErrorKind', () => {
    const bogus = (() => 'NOT_A_KIND') as unknown as ClassifyErrorHook;
    expect(kindOf(new NotFoundException(), bogus)).toBe(ErrorKind.NotFound);
  });

  it('keeps a Retry-After the error carries when the hook classifies it', () => {
    const err = Object.assign(new QuotaExceeded('quota'), { headers: { 'retry-after': '4' } });
    expect(classifyError(err, hook)).toEqual({ kind: ErrorKind.RateLimited, retryAfterMs: 4_000 });
  });

  it('cannot make a PermanentError retryable: the kind changes, retryable stays false', () => {
    const err = toStepError(new PermanentError('no'), where, () => ErrorKind.RateLimited);
    expect(err.kind).toBe(ErrorKind.RateLimited);
    expect(err.retryable).toBe(false);
  });

  it('decides retryable through the kind for non-Kagzi errors', () => {
    expect(toStepError(new QuotaExceeded('quota'), where, hook).retryable).toBe(true);
    expect(toStepError(new Error('bad'), where, () => ErrorKind.ValidationFailed).retryable).toBe(false);
  });
});

// -------------------------------------------------------------------------------------------------
// Rule 2: Kagzi's own error classes
// -------------------------------------------------------------------------------------------------

describe("Kagzi's own errors", () => {
  it('a StepError keeps its kind and retryAfter', () => {
    expect(classifyError(new StepError('x', { kind: ErrorKind.NotFound }))).toEqual({ kind: ErrorKind.NotFound, retryAfterMs: undefined });
    expect(classifyError(new TransientError('x', { kind: ErrorKind.RateLimited, retryAfter: '2s' }))).toEqual({ kind: ErrorKind.RateLimited, retryAfterMs: 2_000 });
  });

  it('defaults: StepError UNKNOWN (retryable), TransientError UNKNOWN (retryable), PermanentError BUSINESS_LOGIC_ERROR (not)', () => {
    const s = new StepError('s');
    const t = new TransientError('t');
    const p = new PermanentError('p');
    expect([s.kind, s.retryable]).toEqual([ErrorKind.Unknown, true]);
    expect([t.kind, t.retryable]).toEqual([ErrorKind.Unknown, true]);
    expect([p.kind, p.retryable]).toEqual([ErrorKind.BusinessLogicError, false]);
    expect([s.name, t.name, p.name]).toEqual(['StepError', 'TransientError', 'PermanentError']);
  });

  it('TransientError is retryable and PermanentError is not, whatever kind they are given', () => {
    expect(new TransientError('x', { kind: ErrorKind.ValidationFailed }).retryable).toBe(true);
    expect(new PermanentError('x', { kind: ErrorKind.NetworkError }).retryable).toBe(false);
    expect(toStepError(new TransientError('x', { kind: ErrorKind.ValidationFailed }), where).retryable).toBe(true);
    expect(toStepError(new PermanentError('x', { kind: ErrorKind.NetworkError }), where).retryable).toBe(false);
  });

  it('their kind wins over HTTP status or network code fields they also carry', () => {
    expect(kindOf(Object.assign(new TransientError('x', { kind: ErrorKind.RateLimited }), { status: 404 }))).toBe(ErrorKind.RateLimited);
    expect(kindOf(Object.assign(new PermanentError('x'), { code: 'ECONNRESET' }))).toBe(ErrorKind.BusinessLogicError);
  });

  it('carries the constructor options', () => {
    const cause = new Error('root');
    const e = new TransientError('gateway busy', { kind: ErrorKind.ServiceUnavailable, code: 'GW_BUSY', retryAfter: '1.5s', context: { gateway: 'eu-1' }, cause });
    expect(e).toMatchObject({ message: 'gateway busy', kind: ErrorKind.ServiceUnavailable, code: 'GW_BUSY', retryAfterMs: 1_500, context: { gateway: 'eu-1' } });
    expect(e.cause).toBe(cause);
    expect(e.occurredAt).toBeInstanceOf(Date);
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(StepError);
    expect(new TransientError('x', { retryAfter: 250 }).retryAfterMs).toBe(250);
  });
});

// -------------------------------------------------------------------------------------------------
// Rule 3: HTTP status (Nest HttpException, then plain status / statusCode / response.status)
// -------------------------------------------------------------------------------------------------

describe('Nest HttpException by status', () => {
  it.each([
    [HttpStatus.TOO_MANY_REQUESTS, ErrorKind.RateLimited],
    [HttpStatus.SERVICE_UNAVAILABLE, ErrorKind.ServiceUnavailable],
    [HttpStatus.BAD_GATEWAY, ErrorKind.ServiceUnavailable],
    [HttpStatus.GATEWAY_TIMEOUT, ErrorKind.ServiceUnavailable],
    [HttpStatus.REQUEST_TIMEOUT, ErrorKind.Timeout],
    [HttpStatus.BAD_REQUEST, ErrorKind.InvalidInput],
    [HttpStatus.UNPROCESSABLE_ENTITY, ErrorKind.ValidationFailed],
    [HttpStatus.UNAUTHORIZED, ErrorKind.PermissionDenied],
    [HttpStatus.FORBIDDEN, ErrorKind.PermissionDenied],
    [HttpStatus.NOT_FOUND, ErrorKind.NotFound],
  ])('new HttpException(..., %i) is %s', (status, kind) => {
    expect(kindOf(new HttpException('upstream said no', status))).toBe(kind);
    expect(kindOf(new HttpException({ statusCode: status, message: 'as an object body' }, status))).toBe(kind);
  });

  it("Nest's built-in exception classes", () => {
    expect(kindOf(new BadRequestException('bad'))).toBe(ErrorKind.InvalidInput);
    expect(kindOf(new UnprocessableEntityException())).toBe(ErrorKind.ValidationFailed);
    expect(kindOf(new UnauthorizedException())).toBe(ErrorKind.PermissionDenied);
    expect(kindOf(new ForbiddenException())).toBe(ErrorKind.PermissionDenied);
    expect(kindOf(new NotFoundException())).toBe(ErrorKind.NotFound);
    expect(kindOf(new RequestTimeoutException())).toBe(ErrorKind.Timeout);
    expect(kindOf(new ServiceUnavailableException())).toBe(ErrorKind.ServiceUnavailable);
    expect(kindOf(new BadGatewayException())).toBe(ErrorKind.ServiceUnavailable);
    expect(kindOf(new GatewayTimeoutException())).toBe(ErrorKind.ServiceUnavailable);
  });

  it('other statuses are UNKNOWN, so retryable (500, 409)', () => {
    expect(kindOf(new InternalServerErrorException())).toBe(ErrorKind.Unknown);
    expect(kindOf(new ConflictException())).toBe(ErrorKind.Unknown);
    expect(toStepError(new InternalServerErrorException(), where).retryable).toBe(true);
  });

  it('the permanent statuses are not retryable, the transient ones are', () => {
    for (const status of [400, 401, 403, 404, 422]) expect(toStepError(new HttpException('x', status), where).retryable).toBe(false);
    for (const status of [408, 429, 502, 503, 504]) expect(toStepError(new HttpException('x', status), where).retryable).toBe(true);
  });

  it('an HTTP status beats a network code and a cause on the same error', () => {
    expect(kindOf(Object.assign(new HttpException('x', 404), { code: 'ECONNRESET' }))).toBe(ErrorKind.NotFound);
    expect(kindOf(new HttpException('x', 400, { cause: nodeError('ECONNRESET') }))).toBe(ErrorKind.InvalidInput);
  });
});

describe('errors with an HTTP status field (axios, got, fetch wrappers)', () => {
  it.each([
    ['status', { status: 429 }, ErrorKind.RateLimited],
    ['status', { status: 503 }, ErrorKind.ServiceUnavailable],
    ['status', { status: 404 }, ErrorKind.NotFound],
    ['statusCode', { statusCode: 502 }, ErrorKind.ServiceUnavailable],
    ['statusCode', { statusCode: 401 }, ErrorKind.PermissionDenied],
    ['statusCode', { statusCode: 422 }, ErrorKind.ValidationFailed],
    ['response.status', { response: { status: 504 } }, ErrorKind.ServiceUnavailable],
    ['response.status', { response: { status: 408 } }, ErrorKind.Timeout],
    ['response.status', { response: { status: 400 } }, ErrorKind.InvalidInput],
    ['response.status', { response: { status: 403 } }, ErrorKind.PermissionDenied],
  ])('%s: %j', (_field, fields, kind) => {
    expect(kindOf(fields)).toBe(kind);
    expect(kindOf(Object.assign(new Error('Request failed'), fields))).toBe(kind);
  });

  it('an axios-style error (code ERR_BAD_RESPONSE + response.status) goes by the status', () => {
    const axiosLike = Object.assign(new Error('Request failed with status code 503'), {
      name: 'AxiosError',
      code: 'ERR_BAD_RESPONSE',
      isAxiosError: true,
      response: { status: 503, statusText: 'Service Unavailable', headers: {} },
    });
    expect(kindOf(axiosLike)).toBe(ErrorKind.ServiceUnavailable);
  });

  it('a non-number or out-of-range status is not a status', () => {
    expect(kindOf({ status: 'failed' })).toBe(ErrorKind.Unknown);
    expect(kindOf({ status: 999 })).toBe(ErrorKind.Unknown);
    expect(kindOf({ status: 200, code: 'ECONNRESET' })).toBe(ErrorKind.NetworkError);
  });
});

describe('Retry-After', () => {
  it('as seconds, from a header bag (either spelling), a Headers instance or a retryAfter field', () => {
    expect(classifyError({ status: 429, headers: { 'retry-after': '7' } })).toEqual({ kind: ErrorKind.RateLimited, retryAfterMs: 7_000 });
    expect(classifyError({ status: 429, headers: { 'Retry-After': '2' } }).retryAfterMs).toBe(2_000);
    expect(classifyError({ response: { status: 429, headers: { 'retry-after': '0.5' } } }).retryAfterMs).toBe(500);
    expect(classifyError({ status: 503, headers: new Headers({ 'Retry-After': '3' }) })).toEqual({ kind: ErrorKind.ServiceUnavailable, retryAfterMs: 3_000 });
    expect(classifyError({ statusCode: 429, retryAfter: 12 }).retryAfterMs).toBe(12_000);
  });

  it('as an HTTP date', () => {
    const at = new Date(Date.now() + 10_000).toUTCString(); // second precision
    const ms = classifyError({ response: { status: 429, headers: { 'retry-after': at } } }).retryAfterMs!;
    expect(ms).toBeGreaterThan(8_000);
    expect(ms).toBeLessThanOrEqual(10_000);
    const past = new Date(Date.now() - 60_000).toUTCString();
    expect(classifyError({ status: 503, headers: { 'retry-after': past } }).retryAfterMs).toBe(0);
  });

  it('on a Nest HttpException, from the response body', () => {
    expect(classifyError(new HttpException({ message: 'slow down', retryAfter: 2 }, HttpStatus.TOO_MANY_REQUESTS))).toEqual({
      kind: ErrorKind.RateLimited,
      retryAfterMs: 2_000,
    });
    const date = new Date(Date.now() + 5_000).toUTCString();
    const ms = classifyError(new HttpException({ message: 'down', retryAfter: date }, HttpStatus.SERVICE_UNAVAILABLE)).retryAfterMs!;
    expect(ms).toBeGreaterThan(3_000);
    expect(ms).toBeLessThanOrEqual(5_000);
    expect(classifyError(new HttpException('slow down', 429))).toEqual({ kind: ErrorKind.RateLimited, retryAfterMs: undefined });
  });

  it('only 429 and 503-class answers carry it; garbage is ignored', () => {
    expect(classifyError({ status: 400, headers: { 'retry-after': '5' } }).retryAfterMs).toBeUndefined();
    expect(classifyError({ status: 429, headers: { 'retry-after': 'soon' } })).toEqual({ kind: ErrorKind.RateLimited, retryAfterMs: undefined });
  });

  it('reaches the StepError (and so the retry delay)', () => {
    const err = toStepError({ status: 429, headers: { 'retry-after': '3' } }, where);
    expect(err.kind).toBe(ErrorKind.RateLimited);
    expect(err.retryAfterMs).toBe(3_000);
  });

  it('parseRetryAfter: seconds (number or string), dates, nothing else', () => {
    expect(parseRetryAfter(0)).toBe(0);
    expect(parseRetryAfter(1.5)).toBe(1_500);
    expect(parseRetryAfter(' 120 ')).toBe(120_000);
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter(-1)).toBeUndefined();
    expect(parseRetryAfter(Number.NaN)).toBeUndefined();
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT')).toBe(0);
  });
});

// -------------------------------------------------------------------------------------------------
// Rule 4: Node network errors
// -------------------------------------------------------------------------------------------------

describe('Node network errors', () => {
  it.each(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET'])(
    '%s is NETWORK_ERROR (retryable)',
    (code) => {
      expect(kindOf(nodeError(code))).toBe(ErrorKind.NetworkError);
      expect(kindOf({ code })).toBe(ErrorKind.NetworkError);
      expect(toStepError(nodeError(code), where).retryable).toBe(true);
    },
  );

  it('nested in cause (as undici fetch reports them), one or several levels deep', () => {
    expect(kindOf(new TypeError('fetch failed', { cause: nodeError('ECONNREFUSED') }))).toBe(ErrorKind.NetworkError);
    expect(kindOf(new Error('charge failed', { cause: new Error('socket', { cause: { code: 'ECONNRESET' } }) }))).toBe(ErrorKind.NetworkError);
  });

  it('a real refused connection through fetch()', async () => {
    const port = await closedPort();
    const err = await fetch(`http://127.0.0.1:${port}/`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).name).toBe('TypeError'); // undici's realm: instanceof does not hold under jest
    expect((err as Error).message).toBe('fetch failed');
    expect(kindOf(err)).toBe(ErrorKind.NetworkError);
  });

  it('other codes are not network errors', () => {
    expect(kindOf(nodeError('ENOENT'))).toBe(ErrorKind.Unknown);
    expect(kindOf(nodeError('ERR_INVALID_ARG_TYPE'))).toBe(ErrorKind.Unknown);
  });
});

// -------------------------------------------------------------------------------------------------
// Rule 5: PostgreSQL errors by SQLSTATE class
// -------------------------------------------------------------------------------------------------

describe('PostgreSQL errors by SQLSTATE', () => {
  it('class 08 (connection exception) is DATABASE_CONNECTION_FAILED, retryable', () => {
    expect(kindOf({ code: '08006', severity: 'FATAL' })).toBe(ErrorKind.DatabaseConnectionFailed);
    expect(kindOf(pgError('08001'))).toBe(ErrorKind.DatabaseConnectionFailed);
    expect(kindOf(pgError('08003'))).toBe(ErrorKind.DatabaseConnectionFailed);
    expect(toStepError(pgError('08006'), where).retryable).toBe(true);
  });

  it('40001 (serialization failure) and 40P01 (deadlock) are retryable', () => {
    for (const code of ['40001', '40P01']) {
      const plain = { code, severity: 'ERROR', message: 'could not serialize access' };
      expect(toStepError(plain, where).retryable).toBe(true);
      expect(isRetryableKind(kindOf(plain))).toBe(true);
      expect(toStepError(pgError(code), where).retryable).toBe(true);
    }
  });

  it('class 23 (integrity constraint violation) is VALIDATION_FAILED, not retryable', () => {
    for (const code of ['23505', '23503', '23502', '23514']) {
      expect(kindOf({ code, severity: 'ERROR' })).toBe(ErrorKind.ValidationFailed);
      expect(kindOf(pgError(code))).toBe(ErrorKind.ValidationFailed);
      expect(toStepError(pgError(code), where).retryable).toBe(false);
    }
  });

  it('a pg DatabaseError is recognised by its class even without severity', () => {
    const bare = new DatabaseError('duplicate key value violates unique constraint', 0, 'error');
    bare.code = '23505';
    expect(kindOf(bare)).toBe(ErrorKind.ValidationFailed);
  });

  it('TypeORM QueryFailedError: by its driverError (a plain-object look-alike and the real class)', () => {
    expect(kindOf({ name: 'QueryFailedError', message: 'q', query: 'select 1', driverError: { code: '08006', severity: 'FATAL' } })).toBe(
      ErrorKind.DatabaseConnectionFailed,
    );
    expect(kindOf({ name: 'QueryFailedError', message: 'q', driverError: { code: '40P01', severity: 'ERROR' } })).toBe(ErrorKind.Unknown);
    expect(kindOf(new QueryFailedError('insert ...', [], pgError('23505')))).toBe(ErrorKind.ValidationFailed);
    expect(kindOf(new QueryFailedError('select 1', [], pgError('08006')))).toBe(ErrorKind.DatabaseConnectionFailed);
  });

  it('a 5-character code on something that is not a PostgreSQL error is not an SQLSTATE', () => {
    expect(kindOf(Object.assign(new Error('app error'), { code: '23505' }))).toBe(ErrorKind.Unknown);
  });
});

// -------------------------------------------------------------------------------------------------
// Rule 6: AbortError / TimeoutError
// -------------------------------------------------------------------------------------------------

describe('AbortError and TimeoutError', () => {
  it('DOMExceptions named AbortError or TimeoutError are TIMEOUT', () => {
    expect(kindOf(new DOMException('The operation was aborted', 'AbortError'))).toBe(ErrorKind.Timeout);
    expect(kindOf(new DOMException('The operation timed out', 'TimeoutError'))).toBe(ErrorKind.Timeout);
  });

  it('the reason of AbortSignal.timeout() and of AbortSignal.abort()', async () => {
    const signal = AbortSignal.timeout(5);
    await sleep(30);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
    expect(kindOf(signal.reason)).toBe(ErrorKind.Timeout);
    expect(kindOf(AbortSignal.abort().reason)).toBe(ErrorKind.Timeout);
  });

  it("Node's own AbortError (timers/promises with an aborted signal)", async () => {
    const err = await sleep(1_000, undefined, { signal: AbortSignal.abort() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).name).toBe('AbortError');
    expect(kindOf(err)).toBe(ErrorKind.Timeout);
    expect(toStepError(err, where).retryable).toBe(true);
  });

  it('an Error named AbortError, also as a cause', () => {
    expect(kindOf(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toBe(ErrorKind.Timeout);
    expect(kindOf(new Error('request failed', { cause: new DOMException('timed out', 'TimeoutError') }))).toBe(ErrorKind.Timeout);
  });
});

// -------------------------------------------------------------------------------------------------
// Rule 7: everything else
// -------------------------------------------------------------------------------------------------

describe('UNKNOWN fallback', () => {
  it.each([
    ['an Error', new Error('boom')],
    ['a TypeError', new TypeError('x is not a function')],
    ['a string', 'boom'],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an empty object', {}],
    ['an object with an unknown code', { code: 'E_SOMETHING' }],
  ])('%s is UNKNOWN', (_what, value) => {
    expect(classifyError(value)).toEqual({ kind: ErrorKind.Unknown });
  });

  it('UNKNOWN is retryable', () => {
    expect(isRetryableKind(ErrorKind.Unknown)).toBe(true);
    expect(toStepError(new Error('boom'), where).retryable).toBe(true);
  });

  it('a self-referencing cause chain does not loop forever', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = a;
    expect(kindOf(a)).toBe(ErrorKind.Unknown);
  });
});

// -------------------------------------------------------------------------------------------------
// toStepError / serializeStepError / rehydrateStepError
// -------------------------------------------------------------------------------------------------

/** What the database does to a serialized error: JSONB in, JSON out. */
const throughJson = (s: SerializedStepError): SerializedStepError => JSON.parse(JSON.stringify(s)) as SerializedStepError;

function causeChain(s: SerializedStepError | undefined): SerializedStepError[] {
  const out: SerializedStepError[] = [];
  for (let c = s; c; c = c.cause) out.push(c);
  return out;
}

describe('toStepError', () => {
  it('wraps a thrown value with the classified kind, its message and code, the step name and attempt', () => {
    const raw = nodeError('ECONNRESET', 'socket hang up');
    const err = toStepError(raw, where);
    expect(err).toBeInstanceOf(StepError);
    expect(err).toMatchObject({ name: 'StepError', kind: ErrorKind.NetworkError, message: 'socket hang up', code: 'ECONNRESET', retryable: true, stepName: 'Payments.charge', attempt: 2 });
    expect(err.cause).toBe(raw);
  });

  it('returns a thrown StepError itself, stamped with the attempt', () => {
    const thrown = new PermanentError('declined', { code: 'DECLINED' });
    const err = toStepError(thrown, where);
    expect(err).toBe(thrown);
    expect(err).toMatchObject({ kind: ErrorKind.BusinessLogicError, retryable: false, code: 'DECLINED', attempt: 2, stepName: 'Payments.charge' });
  });

  it('messages of non-Error values', () => {
    expect(toStepError('plain string', where).message).toBe('plain string');
    // described, never JSON'd: a thrown object may carry credentials (see step-error.serializer.spec.ts)
    expect(toStepError({ reason: 'nope' }, where).message).toBe('Non-Error value thrown: object with keys reason');
    expect(toStepError(Object.assign(new Error('numeric'), { code: 1234 }), where).code).toBe('1234');
  });
});

describe('serializeStepError / rehydrateStepError', () => {
  it('the serialized kind is the SCREAMING_SNAKE string', () => {
    const s = serializeStepError(toStepError(new ServiceUnavailableException('down'), where));
    expect(s.kind).toBe('SERVICE_UNAVAILABLE');
    expect(throughJson(s).kind).toBe('SERVICE_UNAVAILABLE');
  });

  it('round-trips a TransientError: class, name, kind, message, code, context, retryAfterMs, attempt, stepName, occurredAt', () => {
    const original = toStepError(
      new TransientError('gateway busy', { kind: ErrorKind.RateLimited, code: 'GW_BUSY', retryAfter: '750ms', context: { gateway: 'eu-1', tries: [1, 2] } }),
      where,
    );
    const back = rehydrateStepError(throughJson(serializeStepError(original)));
    expect(back).toBeInstanceOf(TransientError);
    expect(back).toBeInstanceOf(StepError);
    expect(back).toMatchObject({
      name: 'TransientError',
      kind: ErrorKind.RateLimited,
      message: 'gateway busy',
      code: 'GW_BUSY',
      retryable: true,
      retryAfterMs: 750,
      context: { gateway: 'eu-1', tries: [1, 2] },
      attempt: 2,
      stepName: 'Payments.charge',
    });
    expect(back.occurredAt).toEqual(original.occurredAt);
  });

  it('round-trips a PermanentError: still a PermanentError, still not retryable', () => {
    const back = rehydrateStepError(throughJson(serializeStepError(toStepError(new PermanentError('card declined', { code: 'DECLINED', kind: ErrorKind.InvalidInput }), where))));
    expect(back).toBeInstanceOf(PermanentError);
    expect(back).toMatchObject({ name: 'PermanentError', kind: ErrorKind.InvalidInput, message: 'card declined', code: 'DECLINED', retryable: false });
  });

  it('keeps the name of a user subclass', () => {
    class CardDeclinedError extends PermanentError {}
    const back = rehydrateStepError(throughJson(serializeStepError(toStepError(new CardDeclinedError('declined'), where))));
    expect(back.name).toBe('CardDeclinedError');
    expect(back.retryable).toBe(false);
    expect(back.kind).toBe(ErrorKind.BusinessLogicError);
  });

  it('round-trips a classified Nest HttpException', () => {
    const back = rehydrateStepError(throughJson(serializeStepError(toStepError(new HttpException('payments are down', 503), where))));
    expect(back).toBeInstanceOf(StepError);
    expect(back).toMatchObject({ kind: ErrorKind.ServiceUnavailable, message: 'payments are down', retryable: true });
  });

  it('an unknown stored kind comes back as UNKNOWN', () => {
    const s = throughJson(serializeStepError(toStepError(new Error('x'), where)));
    const back = rehydrateStepError({ ...s, kind: 'FROM_THE_FUTURE' as ErrorKind });
    expect(back.kind).toBe(ErrorKind.Unknown);
  });

  it("keeps the cause chain of a StepError the user built: each level's message and kind, in order, once", () => {
    const err = toStepError(
      new TransientError('charge failed', { code: 'CHARGE', cause: new Error('gateway unreachable', { cause: nodeError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:443') }) }),
      where,
    );
    const chain = causeChain(throughJson(serializeStepError(err)));
    expect(chain.map((c) => c.message)).toEqual(['charge failed', 'gateway unreachable', 'connect ECONNREFUSED 10.0.0.1:443']);
    expect(chain[2].kind).toBe(ErrorKind.NetworkError);
    expect(chain[2].code).toBe('ECONNREFUSED');

    const back = rehydrateStepError(throughJson(serializeStepError(err)));
    const messages: string[] = [];
    for (let c: unknown = back; c instanceof Error; c = c.cause) messages.push(c.message);
    expect(messages).toEqual(['charge failed', 'gateway unreachable', 'connect ECONNREFUSED 10.0.0.1:443']);
  });

  it("keeps the cause chain of a thrown plain Error: the root cause is reachable and nothing is repeated", () => {
    const thrown = new Error('outer', { cause: new Error('inner', { cause: { code: 'ECONNRESET', message: 'read ECONNRESET' } }) });
    const chain = causeChain(throughJson(serializeStepError(toStepError(thrown, where))));
    const messages = chain.map((c) => c.message);
    expect(messages).toContain('inner');
    expect(messages).toContain('read ECONNRESET');
    expect(messages.filter((m) => m === 'outer').length).toBeLessThanOrEqual(2);
    expect(chain[0].kind).toBe(ErrorKind.NetworkError); // classified through the chain
  });
});
