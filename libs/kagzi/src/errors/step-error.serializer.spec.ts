/**
 * What is stored from an error (serializeStepError): always accepted by PostgreSQL jsonb (checked
 * against the real server, not by inspection), bounded in size, free of request configs, headers
 * and secrets, and named so that code matching on the class (retryOn, catch, getRun) sees the
 * same thing before and after storage. toStepError's message for values that are not Errors.
 */
import { Client } from 'pg';
import { adminUrl } from '../../../../test/support/database';
import { ErrorKind } from './error-kind';
import { rehydrateStepError, serializeStepError, toStepError } from './step-error.serializer';
import { PermanentError, SerializedStepError, StepError, TransientError } from './step.error';
import { STORED_ERROR_LIMITS } from './storable-text';

const where = { stepName: 'Payments.charge', attempt: 1 };
const NUL = String.fromCharCode(0);

let pg: Client;

beforeAll(async () => {
  pg = new Client({ connectionString: adminUrl() });
  await pg.connect();
});

afterAll(() => pg?.end());

/** Writes the stored form as the repository does (JSON text into jsonb) and reads it back. */
async function throughJsonb(err: StepError): Promise<SerializedStepError> {
  const [row] = (await pg.query<{ error: SerializedStepError }>('select $1::jsonb as error', [JSON.stringify(serializeStepError(err))])).rows;
  return row.error;
}

function chainOf(s: SerializedStepError): SerializedStepError[] {
  const out: SerializedStepError[] = [];
  for (let c: SerializedStepError | undefined = s; c; c = c.cause) out.push(c);
  return out;
}

describe('serializeStepError: the stored form is always accepted by jsonb', () => {
  it('NUL in the message, name, code, stack, context keys and values, and the cause chain', async () => {
    const cause = Object.assign(new Error(`inner ${NUL} cause`), { code: `E${NUL}X` });
    cause.name = `Bad${NUL}Name`;
    const err = new PermanentError(`bad ${NUL} byte`, { code: `C${NUL}`, context: { [`k${NUL}ey`]: `v${NUL}alue`, list: [`a${NUL}`] }, cause });
    err.stack = `stack ${NUL} here`;
    const stored = await throughJsonb(toStepError(err, where));
    expect(stored.message).toBe('bad \\u0000 byte');
    expect(stored.code).toBe('C\\u0000');
    expect(stored.stack).toBe('stack \\u0000 here');
    expect(stored.context).toEqual({ 'k\\u0000ey': 'v\\u0000alue', list: ['a\\u0000'] });
    expect(stored.cause).toMatchObject({ name: 'Bad\\u0000Name', message: 'inner \\u0000 cause', code: 'E\\u0000X' });
  });

  it('a thrown string with NUL, and lone surrogates anywhere', async () => {
    const stored = await throughJsonb(toStepError(`raw ${NUL} string \uD800 end`, where));
    expect(stored.message).toBe('raw \\u0000 string \uFFFD end');
    const lone = await throughJsonb(new StepError('x', { context: { s: 'half \uDC00 pair', ok: 'emoji 😀' } }));
    expect(lone.context).toEqual({ s: 'half \uFFFD pair', ok: 'emoji 😀' });
  });

  it('a context with BigInt, Date, a cycle, functions, symbols, class instances, Map, Set and binary data', async () => {
    class Money {
      constructor(
        readonly cents: bigint,
        readonly currency: string,
      ) {}
    }
    const order: Record<string, unknown> = { id: 'o-1' };
    order.self = order;
    const shared = { n: 1 };
    const context = {
      amount: 12345678901234567890n,
      at: new Date('2024-05-01T10:00:00.000Z'),
      invalid: new Date(NaN),
      order,
      twice: [shared, shared],
      callback: function notify() {},
      tag: Symbol('tag'),
      money: new Money(250n, 'EUR'),
      byId: new Map<unknown, unknown>([['a', 1n], [2, 'two']]),
      ids: new Set([1, 2]),
      bytes: Buffer.from('secret bytes'),
      nan: NaN,
      missing: undefined,
      pending: Promise.resolve(1),
      err: Object.assign(new Error('inner'), { code: 'E1', config: { headers: { Authorization: 'Bearer x' } } }),
    };
    const stored = await throughJsonb(new PermanentError('no', { context }));
    expect(stored.context).toEqual({
      amount: '12345678901234567890',
      at: '2024-05-01T10:00:00.000Z',
      invalid: 'Invalid Date',
      order: { id: 'o-1', self: '[Circular]' },
      twice: [{ n: 1 }, { n: 1 }],
      callback: '[Function notify]',
      tag: 'Symbol(tag)',
      money: { cents: '250', currency: 'EUR' },
      byId: { a: '1', '2': 'two' },
      ids: [1, 2],
      bytes: '[Buffer of 12 bytes]',
      nan: 'NaN',
      pending: '[Promise]',
      err: { name: 'Error', message: 'inner', code: 'E1' },
    });
  });

  it('a context whose getters throw keeps the rest', async () => {
    const context: Record<string, unknown> = { ok: 1 };
    Object.defineProperty(context, 'bad', { enumerable: true, get: () => { throw new Error('getter'); } });
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    context.proxy = revoked.proxy;
    const stored = await throughJsonb(new StepError('x', { context }));
    expect(stored.context).toEqual({ ok: 1, bad: '[unreadable]', proxy: '[unreadable]' });
  });

  it('a context nested 20,000 levels deep is cut, not overflowing the stack', async () => {
    const root: Record<string, unknown> = {};
    let cur = root;
    for (let i = 0; i < 20_000; i++) cur = (cur.next = {}) as Record<string, unknown>;
    const stored = await throughJsonb(new StepError('x', { context: root }));
    let depth = 0;
    for (let c: unknown = stored.context; typeof c === 'object' && c !== null; c = (c as { next?: unknown }).next) depth++;
    expect(depth).toBe(STORED_ERROR_LIMITS.contextDepth);
    expect(JSON.stringify(stored.context)).toContain(`[nested deeper than ${STORED_ERROR_LIMITS.contextDepth} levels]`);
  });

  it('a context that is not an object is kept under `value`', async () => {
    const stored = await throughJsonb(new StepError('x', { context: 42n as unknown as Record<string, unknown> }));
    expect(stored.context).toEqual({ value: '42' });
  });

  it('a hostile error still serializes: invalid occurredAt, NaN attempt, unknown kind', async () => {
    const err = new StepError('x');
    err.occurredAt = new Date(NaN);
    err.attempt = NaN;
    err.kind = 'NOT_A_KIND' as ErrorKind;
    const stored = await throughJsonb(err);
    expect(stored).toMatchObject({ attempt: 1, kind: 'UNKNOWN', message: 'x' });
    expect(Number.isNaN(Date.parse(stored.occurredAt))).toBe(false);
  });
});

describe('toStepError: the live error is what storage gives back', () => {
  it('the workflow catches the same message and context on its first run as on a replay', async () => {
    const cyclic: Record<string, unknown> = { id: 'o-1', amount: 5n };
    cyclic.self = cyclic;
    const live = toStepError(new PermanentError(`bad ${NUL} byte`, { context: { order: cyclic, token: 't' } }), where);
    const replayed = rehydrateStepError(await throughJsonb(live));
    expect(live.message).toBe(replayed.message);
    expect(live.context).toEqual(replayed.context);
    expect(live.context).toEqual({ order: { id: 'o-1', amount: '5', self: '[Circular]' }, token: '[REDACTED]' });
  });

  it('passing through toStepError twice (step, then workflow) changes nothing more', () => {
    const once = toStepError(new StepError('y'.repeat(100_000), { context: { body: 'z'.repeat(100_000) } }), where);
    const message = once.message;
    const context = once.context;
    const twice = toStepError(once, where);
    expect(twice.message).toBe(message);
    expect(twice.message.length).toBe(STORED_ERROR_LIMITS.message);
    expect(twice.context).toEqual(context);
  });
});

describe('serializeStepError: the stored form is bounded', () => {
  const tenMb = 'x'.repeat(10 * 1024 * 1024);

  it('a 10 MB message and stack are cut, with a note of the original length', async () => {
    const err = new PermanentError(tenMb);
    err.stack = tenMb;
    const stored = await throughJsonb(err);
    expect(stored.message.length).toBe(STORED_ERROR_LIMITS.message);
    expect(stored.message).toMatch(new RegExp(`… \\[truncated: ${tenMb.length} characters in all\\]$`));
    expect(stored.stack!.length).toBe(STORED_ERROR_LIMITS.stack);
  });

  it('a 10 MB string in context is cut; a context too large overall is replaced by a note', async () => {
    const one = await throughJsonb(new StepError('x', { context: { body: tenMb, id: 7 } }));
    expect(one.context!.id).toBe(7);
    expect((one.context!.body as string).length).toBe(STORED_ERROR_LIMITS.contextString);

    const many = Array.from({ length: 100_000 }, (_, i) => ({ i, text: 'row' }));
    const all = await throughJsonb(new StepError('x', { context: { many } }));
    expect(all.context).toEqual({ kagziNote: `context not stored: larger than ${STORED_ERROR_LIMITS.context} characters as JSON` });
  });

  it('a whole stored error with the worst of everything stays under 1 MB of JSON', () => {
    let err: unknown = new Error(tenMb);
    for (let i = 0; i < 10; i++) err = new TransientError(tenMb, { cause: err, context: { body: tenMb, more: [tenMb, tenMb] } });
    const text = JSON.stringify(serializeStepError(toStepError(err, where)));
    expect(text.length).toBeLessThan(1024 * 1024);
  });
});

describe('secrets are never stored', () => {
  const axiosLike = () => ({
    status: 400,
    config: { url: 'https://api.example/charge', headers: { Authorization: 'Bearer secret-token-1' } },
    request: { _header: 'POST /charge\r\nAuthorization: Bearer secret-token-1' },
    response: { status: 400, headers: { 'set-cookie': 'sid=secret-cookie-1' }, data: { error: 'amount must be positive' } },
  });

  it('a thrown non-Error object: message describes it, never its JSON; status still classifies it', async () => {
    const err = toStepError(axiosLike(), where);
    expect(err.message).toBe('Non-Error value thrown: object with status 400');
    expect(err.kind).toBe(ErrorKind.InvalidInput);
    expect(err.retryable).toBe(false);
    const text = JSON.stringify(await throughJsonb(err));
    for (const secret of ['secret-token-1', 'secret-cookie-1', 'Bearer', 'Authorization', 'api.example']) expect(text).not.toContain(secret);
  });

  it('an Error wrapping one, in the cause chain: only name, message, code and stack of each link', async () => {
    const thrown = new Error('Request failed with status code 400', { cause: axiosLike() });
    Object.assign(thrown, { config: axiosLike().config });
    const stored = await throughJsonb(toStepError(thrown, where));
    const text = JSON.stringify(stored);
    expect(text).not.toContain('secret-token-1');
    expect(text).not.toContain('secret-cookie-1');
    expect(chainOf(stored).map((c) => c.message)).toEqual([
      'Request failed with status code 400',
      'Request failed with status code 400',
      'Non-Error value thrown: object with status 400',
    ]);
  });

  it('secret fields in context are redacted by name, case-insensitively, at any depth', async () => {
    const context = {
      orderId: 'o-1',
      headers: { 'content-type': 'json' },
      config: { timeout: 5 },
      request: { url: '/x' },
      Authorization: 'Bearer a',
      nested: { password: 'p', dbPassword: 'p2', apiKey: 'k', api_key: 'k2', 'X-Api-Key': 'k3', access_token: 't', refresh_token: 't2', clientSecret: 's', COOKIE: 'c', 'Set-Cookie': 'c2' },
      list: [{ token: 't3', keep: 'yes' }],
      byName: new Map([['secret', 's2']]),
    };
    const stored = await throughJsonb(new PermanentError('declined', { context }));
    const R = '[REDACTED]';
    expect(stored.context).toEqual({
      orderId: 'o-1',
      headers: R,
      config: R,
      request: R,
      Authorization: R,
      nested: { password: R, dbPassword: R, apiKey: R, api_key: R, 'X-Api-Key': R, access_token: R, refresh_token: R, clientSecret: R, COOKIE: R, 'Set-Cookie': R },
      list: [{ token: R, keep: 'yes' }],
      byName: { secret: R },
    });
  });

  it('descriptions of other thrown values', () => {
    expect(toStepError({ reason: 'nope', password: 'p' }, where).message).toBe('Non-Error value thrown: object with keys reason, password');
    expect(toStepError({ code: 'E_QUOTA', token: 't' }, where).message).toBe('Non-Error value thrown: object with code E_QUOTA');
    expect(toStepError({ message: 'from a plain object', token: 't' }, where).message).toBe('from a plain object');
    expect(toStepError(42, where).message).toBe('Non-Error value thrown: number 42');
    expect(toStepError(undefined, where).message).toBe('Non-Error value thrown: undefined');
    expect(toStepError([1, 2], where).message).toBe('Non-Error value thrown: array of 2 items');
    class Weird {
      constructor(readonly secret = 's') {}
    }
    expect(toStepError(new Weird(), where).message).toBe('Non-Error value thrown: instance of Weird with keys secret');
  });
});

describe('names: the Kagzi class in `name`, the thrown class in `cause.name`', () => {
  class LedgerUnavailableError extends Error {
    constructor(message: string) {
      super(message);
      this.name = 'LedgerUnavailableError';
    }
  }
  class CardDeclinedError extends PermanentError {}
  class SlowDownError extends TransientError {}

  it('a wrapped thrown error is a StepError; its class name survives storage and rehydration as cause.name', async () => {
    const live = toStepError(new LedgerUnavailableError('ledger down'), where);
    expect(live.name).toBe('StepError');
    expect((live.cause as Error).name).toBe('LedgerUnavailableError');
    const stored = await throughJsonb(live);
    expect(stored).toMatchObject({ name: 'StepError', kagziClass: 'StepError', cause: { name: 'LedgerUnavailableError', message: 'ledger down' } });
    const back = rehydrateStepError(stored);
    expect(back.name).toBe('StepError');
    expect((back.cause as Error).name).toBe('LedgerUnavailableError');
  });

  it("a user subclass of PermanentError keeps its name and comes back as a PermanentError", async () => {
    const back = rehydrateStepError(await throughJsonb(toStepError(new CardDeclinedError('declined'), where)));
    expect(back.name).toBe('CardDeclinedError');
    expect(back).toBeInstanceOf(PermanentError);
    expect(back.retryable).toBe(false);
  });

  it('a user subclass of TransientError comes back as a TransientError', async () => {
    const back = rehydrateStepError(await throughJsonb(toStepError(new SlowDownError('slow'), where)));
    expect(back.name).toBe('SlowDownError');
    expect(back).toBeInstanceOf(TransientError);
  });

  it('an error stored before kagziClass existed is rebuilt by name', () => {
    const stored = serializeStepError(toStepError(new PermanentError('old'), where));
    delete stored.kagziClass;
    expect(rehydrateStepError(stored)).toBeInstanceOf(PermanentError);
  });
});
