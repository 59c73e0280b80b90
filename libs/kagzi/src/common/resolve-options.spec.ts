/**
 * resolveKagziOptions: module options with every default applied and every value checked — the
 * defaults, where the database comes from (options, KAGZI_DATABASE_URL, DATABASE_URL, embedded),
 * bounds on worker durations, the lease >= 2.5 x heartbeat rule, and the messages of refusals.
 * Pure: `env` is passed in, no database.
 */
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { RetryPolicy } from '../execution/retry-policy';
import { KagziModuleOptions } from '../interfaces/kagzi-options.interface';
import { resolveKagziOptions } from './resolve-options';

const NO_ENV: NodeJS.ProcessEnv = {};

/** The InvalidOptionsError message for `options`; fails the test if they are accepted. */
function refusal(options: unknown, env: NodeJS.ProcessEnv = NO_ENV): string {
  try {
    resolveKagziOptions(options as KagziModuleOptions, env);
  } catch (err: unknown) {
    expect(err).toBeInstanceOf(InvalidOptionsError);
    return (err as InvalidOptionsError).message;
  }
  throw new Error(`expected ${JSON.stringify(options)} to be refused`);
}

describe('resolveKagziOptions: defaults', () => {
  it('applies every default to empty options', () => {
    const resolved = resolveKagziOptions({}, NO_ENV);
    expect(resolved).toEqual({
      database: { kind: 'embedded', dataDir: '.kagzi' },
      schema: 'kagzi',
      migrationsRun: true,
      worker: {
        name: expect.any(String),
        concurrency: 10,
        pollIntervalMs: 1_000,
        leaseDurationMs: 30_000,
        heartbeatIntervalMs: 10_000,
        shutdownTimeoutMs: 30_000,
        retentionMs: 7 * 86_400_000,
        workflows: undefined,
      },
      defaultRetry: expect.any(RetryPolicy),
      classifyError: undefined,
      maxPayloadBytes: 1024 * 1024,
      retryAttempts: 9,
      retryDelayMs: 3_000,
      reconnectTimeoutMs: 10_000,
      preparedStatements: true,
    });
    expect(resolved.defaultRetry).toEqual(RetryPolicy.none());
  });

  it('no options at all are the same as empty options', () => {
    const a = resolveKagziOptions(undefined, NO_ENV);
    const b = resolveKagziOptions({}, NO_ENV);
    expect({ ...a, worker: { ...a.worker, name: 'x' } }).toEqual({ ...b, worker: { ...b.worker, name: 'x' } });
  });

  it('names a worker after its host and pid, with a random suffix so two boots differ', () => {
    const name = (): string => (resolveKagziOptions({}, NO_ENV).worker as { name: string }).name;
    expect(name()).toMatch(new RegExp(`-${process.pid}-[0-9a-f]{6}$`));
    expect(name()).not.toBe(name());
  });

  it('keeps the values it is given, converting durations to milliseconds', () => {
    const classifyError = (): undefined => undefined;
    const resolved = resolveKagziOptions(
      {
        database: { url: 'postgres://db/app' },
        schema: 'orders_kagzi',
        migrationsRun: false,
        worker: {
          name: 'w1',
          concurrency: 3,
          pollInterval: '250ms',
          leaseDuration: '1m',
          heartbeatInterval: '20s',
          shutdownTimeout: 0,
          retention: '1 hour',
          workflows: ['order'],
        },
        defaultRetry: RetryPolicy.fixed({ maxAttempts: 2, interval: '1s' }),
        classifyError,
        maxPayloadBytes: 2048,
        retryAttempts: 0,
        retryDelay: '500ms',
        reconnectTimeout: 0,
        preparedStatements: false,
      },
      NO_ENV,
    );
    expect(resolved).toMatchObject({
      database: { kind: 'url', url: 'postgres://db/app' },
      schema: 'orders_kagzi',
      migrationsRun: false,
      worker: {
        name: 'w1',
        concurrency: 3,
        pollIntervalMs: 250,
        leaseDurationMs: 60_000,
        heartbeatIntervalMs: 20_000,
        shutdownTimeoutMs: 0,
        retentionMs: 3_600_000,
        workflows: ['order'],
      },
      classifyError,
      maxPayloadBytes: 2048,
      retryAttempts: 0,
      retryDelayMs: 500,
      reconnectTimeoutMs: 0,
      preparedStatements: false,
    });
  });

  it('worker: false makes a client-only process', () => {
    expect(resolveKagziOptions({ worker: false }, NO_ENV).worker).toBe(false);
  });
});

describe('resolveKagziOptions: where the database comes from', () => {
  const ENV = { KAGZI_DATABASE_URL: 'postgres://kagzi-env/db', DATABASE_URL: 'postgres://generic-env/db' };

  it('database.url wins over the environment', () => {
    expect(resolveKagziOptions({ database: { url: 'postgres://given/db' } }, ENV).database).toEqual({ kind: 'url', url: 'postgres://given/db' });
  });

  it('embedded wins over the environment, with its own data directory and port', () => {
    expect(resolveKagziOptions({ database: { embedded: true } }, ENV).database).toEqual({ kind: 'embedded', dataDir: '.kagzi', port: undefined });
    expect(resolveKagziOptions({ database: { embedded: { dataDir: '/var/kagzi', port: 5499 } } }, ENV).database).toEqual({
      kind: 'embedded',
      dataDir: '/var/kagzi',
      port: 5499,
    });
  });

  it('without database options, KAGZI_DATABASE_URL comes before DATABASE_URL', () => {
    expect(resolveKagziOptions({}, ENV).database).toEqual({ kind: 'url', url: 'postgres://kagzi-env/db' });
    expect(resolveKagziOptions({}, { DATABASE_URL: 'postgres://generic-env/db' }).database).toEqual({ kind: 'url', url: 'postgres://generic-env/db' });
  });

  it('an empty KAGZI_DATABASE_URL falls through to DATABASE_URL, and empty both to the embedded server', () => {
    expect(resolveKagziOptions({}, { KAGZI_DATABASE_URL: '', DATABASE_URL: 'postgres://generic-env/db' }).database).toEqual({
      kind: 'url',
      url: 'postgres://generic-env/db',
    });
    expect(resolveKagziOptions({}, { KAGZI_DATABASE_URL: '', DATABASE_URL: '' }).database).toEqual({ kind: 'embedded', dataDir: '.kagzi' });
  });

  it('reads process.env when no env is passed', () => {
    const saved = { k: process.env.KAGZI_DATABASE_URL, d: process.env.DATABASE_URL };
    process.env.KAGZI_DATABASE_URL = 'postgres://from-process-env/db';
    try {
      expect(resolveKagziOptions({}).database).toEqual({ kind: 'url', url: 'postgres://from-process-env/db' });
    } finally {
      if (saved.k === undefined) delete process.env.KAGZI_DATABASE_URL;
      else process.env.KAGZI_DATABASE_URL = saved.k;
    }
  });

  it('refuses malformed database options', () => {
    expect(refusal({ database: { url: '' } })).toMatch(/^Invalid KagziModule options: options\.database/);
    expect(refusal({ database: { embedded: { port: 70_000 } } })).toMatch(/options\.database\.embedded\.port/);
    expect(refusal({ database: { url: 'postgres://x', embedded: true } })).toMatch(/options\.database/);
  });
});

describe('resolveKagziOptions: bounds', () => {
  it.each([
    [{ pollInterval: '5ms' }, /options\.worker\.pollInterval: must be at least 10 ms; got "5ms"/],
    [{ pollInterval: '2h' }, /options\.worker\.pollInterval: must be at most 1h/],
    [{ leaseDuration: '500ms', heartbeatInterval: '100ms' }, /options\.worker\.leaseDuration: must be at least 1s/],
    [{ heartbeatInterval: '50ms' }, /options\.worker\.heartbeatInterval: must be at least 100 ms/],
    [{ shutdownTimeout: '25h' }, /options\.worker\.shutdownTimeout: must be at most 1d/],
    [{ retention: '30s' }, /options\.worker\.retention: must be at least 1m/],
    [{ concurrency: 0 }, /options\.worker\.concurrency: must be at least 1/],
    [{ concurrency: 10_001 }, /options\.worker\.concurrency: must be at most 10000/],
    [{ concurrency: 1.5 }, /options\.worker\.concurrency: must be an integer/],
    [{ name: '' }, /options\.worker\.name: must not be empty/],
    [{ workflows: 'order' }, /options\.worker\.workflows: must be an array of workflow names/],
    [{ pollInterval: 'soon' }, /options\.worker\.pollInterval: must be a number of milliseconds/],
    [{ unknownOption: 1 }, /options\.worker/],
  ])('worker %j is refused', (worker, message) => {
    expect(refusal({ worker })).toMatch(message);
  });

  it('accepts every bound itself', () => {
    const worker = resolveKagziOptions(
      { worker: { pollInterval: 10, leaseDuration: 1_000, heartbeatInterval: 400, shutdownTimeout: 0, retention: '1m', concurrency: 10_000 } },
      NO_ENV,
    ).worker;
    expect(worker).toMatchObject({ pollIntervalMs: 10, leaseDurationMs: 1_000, heartbeatIntervalMs: 400, shutdownTimeoutMs: 0, retentionMs: 60_000, concurrency: 10_000 });
  });

  it.each([
    [{ schema: 'Kagzi' }, /options\.schema: must be a lower-case SQL identifier/],
    [{ schema: 'a'.repeat(64) }, /options\.schema: must be a lower-case SQL identifier of at most 63 characters/],
    [{ schema: 'pg_kagzi' }, /options\.schema: must not start with 'pg_'/],
    [{ worker: 'yes' }, /options\.worker: must be false or an object of worker options/],
    [{ defaultRetry: { maxAttempts: 3 } }, /options\.defaultRetry: must be a RetryPolicy/],
    [{ classifyError: 'kind' }, /options\.classifyError: must be a function/],
    [{ maxPayloadBytes: 0 }, /options\.maxPayloadBytes/],
    [{ retryAttempts: 1_001 }, /options\.retryAttempts/],
    [{ retryDelay: '11m' }, /options\.retryDelay: must be at most 10m/],
    [{ reconnectTimeout: '2h' }, /options\.reconnectTimeout: must be at most 1h/],
    [{ preparedStatements: 'no' }, /options\.preparedStatements: must be true or false/],
    [{ databse: { url: 'postgres://typo' } }, /Unrecognized key|databse/],
  ])('%j is refused', (options, message) => {
    expect(refusal(options)).toMatch(message);
  });

  it('accepts the largest schema name PostgreSQL takes (63 characters)', () => {
    expect(resolveKagziOptions({ schema: 'a'.repeat(63) }, NO_ENV).schema).toBe('a'.repeat(63));
  });

  it('reports every problem at once, one per option', () => {
    const message = refusal({ schema: 'X', worker: { concurrency: 0, pollInterval: '1ms' } });
    expect(message).toMatch(/options\.schema: .*; .*options\.worker\.concurrency: .*; .*options\.worker\.pollInterval: /);
  });
});

describe('resolveKagziOptions: lease >= 2.5 x heartbeat', () => {
  it('accepts exactly 2.5 x', () => {
    expect(resolveKagziOptions({ worker: { leaseDuration: '25s', heartbeatInterval: '10s' } }, NO_ENV).worker).toMatchObject({
      leaseDurationMs: 25_000,
      heartbeatIntervalMs: 10_000,
    });
  });

  it('refuses less, saying which way to fix it', () => {
    expect(refusal({ worker: { leaseDuration: 24_999, heartbeatInterval: '10s' } })).toBe(
      'worker.leaseDuration (24999 ms) must be at least 2.5 x worker.heartbeatInterval (10000 ms), so that a lease survives one failed heartbeat; ' +
        'raise leaseDuration to 25000 ms or lower heartbeatInterval to 9999 ms',
    );
  });

  it('checks the rule against the defaults of the option left out', () => {
    // default lease 30 s: a 15 s heartbeat breaks it; default heartbeat 10 s: a 20 s lease breaks it
    expect(refusal({ worker: { heartbeatInterval: '15s' } })).toMatch(/^worker\.leaseDuration \(30000 ms\) must be at least 2\.5 x/);
    expect(refusal({ worker: { leaseDuration: '20s' } })).toMatch(/^worker\.leaseDuration \(20000 ms\) must be at least 2\.5 x worker\.heartbeatInterval \(10000 ms\)/);
  });

  it('does not apply to a client-only process', () => {
    expect(resolveKagziOptions({ worker: false }, NO_ENV).worker).toBe(false);
  });
});
