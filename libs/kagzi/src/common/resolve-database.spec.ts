/**
 * The replica and listen URLs of `database` (docs/scaling.md): where they are accepted, where they are
 * refused and with which message, and how KAGZI_READ_DATABASE_URL / KAGZI_LISTEN_DATABASE_URL apply.
 * Pure: `env` is passed in, no database.
 */
import { InvalidOptionsError } from '../errors/invalid-options.error';
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

describe('resolveKagziOptions: read replica and listen URLs', () => {
  const PRIMARY = 'postgres://primary:5432/app';
  const REPLICA = 'postgres://replica:5432/app';
  const DIRECT = 'postgresql://primary-direct:5432/app';
  const dataSource = { query: () => undefined, options: { type: 'postgres' } };

  it('keeps readUrl and listenUrl beside url, and leaves them out when not given', () => {
    expect(resolveKagziOptions({ database: { url: PRIMARY, readUrl: REPLICA, listenUrl: DIRECT } }, NO_ENV).database).toEqual({
      kind: 'url', url: PRIMARY, readUrl: REPLICA, listenUrl: DIRECT,
    });
    expect(Object.keys(resolveKagziOptions({ database: { url: PRIMARY } }, NO_ENV).database)).toEqual(['kind', 'url']);
  });

  it('accepts listenUrl with a shared DataSource', () => {
    expect(resolveKagziOptions({ database: { dataSource, listenUrl: DIRECT } as never }, NO_ENV).database).toMatchObject({ kind: 'dataSource', listenUrl: DIRECT });
  });

  it('refuses readUrl without url, saying what to do', () => {
    expect(refusal({ database: { dataSource, readUrl: REPLICA } })).toMatch(/^options\.database\.readUrl: a read replica is supported only with database\.url, not with database\.dataSource .*use \{ url, readUrl \}/);
    expect(refusal({ database: { embedded: true, readUrl: REPLICA } })).toMatch(/^options\.database\.readUrl: .*not with an embedded PostgreSQL/);
    expect(refusal({ database: { readUrl: REPLICA } })).toMatch(/options\.database\.readUrl: a read replica is supported only with database\.url/);
  });

  it('refuses listenUrl with the embedded server', () => {
    expect(refusal({ database: { embedded: true, listenUrl: DIRECT } })).toMatch(/^options\.database\.listenUrl: the embedded PostgreSQL needs no listen URL/);
  });

  it.each([
    [{ url: PRIMARY, readUrl: '' }, /options\.database\.readUrl: must not be empty/],
    [{ url: PRIMARY, readUrl: 'mysql://replica/app' }, /options\.database\.readUrl: must be a PostgreSQL URL/],
    [{ url: PRIMARY, readUrl: 'replica:5432' }, /options\.database\.readUrl: must be a PostgreSQL URL/],
    [{ url: PRIMARY, listenUrl: 42 }, /options\.database\.listenUrl: must be a string/],
    [{ dataSource, listenUrl: 'http://x' }, /options\.database\.listenUrl: must be a PostgreSQL URL/],
  ])('database %j is refused', (database, message) => {
    expect(refusal({ database })).toMatch(message);
  });

  it('takes KAGZI_READ_DATABASE_URL and KAGZI_LISTEN_DATABASE_URL with a URL from the environment', () => {
    const env = { DATABASE_URL: PRIMARY, KAGZI_READ_DATABASE_URL: REPLICA, KAGZI_LISTEN_DATABASE_URL: DIRECT };
    expect(resolveKagziOptions({}, env).database).toEqual({ kind: 'url', url: PRIMARY, readUrl: REPLICA, listenUrl: DIRECT });
    expect(resolveKagziOptions({}, { ...env, KAGZI_READ_DATABASE_URL: '', KAGZI_LISTEN_DATABASE_URL: '' }).database).toEqual({ kind: 'url', url: PRIMARY });
  });

  it('ignores them when the database is given in the options (they may belong to another database)', () => {
    const env = { KAGZI_READ_DATABASE_URL: REPLICA, KAGZI_LISTEN_DATABASE_URL: DIRECT };
    expect(resolveKagziOptions({ database: { url: 'postgres://other/app' } }, env).database).toEqual({ kind: 'url', url: 'postgres://other/app' });
    expect(resolveKagziOptions({ database: { embedded: true } }, env).database).toEqual({ kind: 'embedded', dataDir: '.kagzi', port: undefined });
  });

  it('refuses them without a primary URL, and malformed, naming the variable', () => {
    expect(refusal({}, { KAGZI_READ_DATABASE_URL: REPLICA })).toBe(
      'KAGZI_READ_DATABASE_URL is set but KAGZI_DATABASE_URL and DATABASE_URL are not: set one of them to the primary\'s URL, or unset KAGZI_READ_DATABASE_URL',
    );
    expect(refusal({}, { KAGZI_LISTEN_DATABASE_URL: DIRECT })).toMatch(/^KAGZI_LISTEN_DATABASE_URL is set but/);
    expect(refusal({}, { DATABASE_URL: PRIMARY, KAGZI_READ_DATABASE_URL: 'replica:5432' })).toMatch(/^KAGZI_READ_DATABASE_URL: must be a PostgreSQL URL/);
  });
});
