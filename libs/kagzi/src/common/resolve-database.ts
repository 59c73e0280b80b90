import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { KagziModuleOptions } from '../interfaces/kagzi-options.interface';

/**
 * Where Kagzi's tables are, resolved. `readUrl`: a replica for display-only reads; `listenUrl`: a direct
 * session for LISTEN and migrations. Each is present only when set.
 */
export type ResolvedDatabase =
  | { kind: 'url'; url: string; readUrl?: string; listenUrl?: string }
  | { kind: 'embedded'; dataDir: string; port?: number }
  | { kind: 'dataSource'; dataSource: DataSource; listenUrl?: string };

/** The environment variables read when `database` is not given (the URLs' names in messages). */
const ENV = { read: 'KAGZI_READ_DATABASE_URL', listen: 'KAGZI_LISTEN_DATABASE_URL' } as const;

const POSTGRES_PROTOCOLS = new Set(['postgres:', 'postgresql:', 'socket:']);
const POSTGRES_URL_MESSAGE = 'must be a PostgreSQL URL (postgres://user@host:5432/database)';

function isPostgresUrl(value: string): boolean {
  try {
    return POSTGRES_PROTOCOLS.has(new URL(value).protocol);
  } catch {
    return false;
  }
}

const postgresUrl = z.string('must be a string').min(1, 'must not be empty').refine(isPostgresUrl, POSTGRES_URL_MESSAGE);

/** `options.database`, checked. */
export const databaseOptionsSchema = z.union([
  z.object({ url: z.string().min(1), readUrl: postgresUrl.optional(), listenUrl: postgresUrl.optional() }).strict(),
  z
    .object({
      dataSource: z.custom<DataSource>(isPostgresDataSource, "must be a TypeORM DataSource with type 'postgres' (the pg driver)"),
      listenUrl: postgresUrl.optional(),
    })
    .strict(),
  z
    .object({
      embedded: z.union([z.literal(true), z.object({ dataDir: z.string().min(1).optional(), port: z.number().int().min(1).max(65535).optional() }).strict()]),
    })
    .strict(),
]);

/**
 * Refuses a replica or listen URL where it cannot apply, before the shape is checked (a union's own
 * message would only say the key is unexpected): the embedded server has neither, and a shared
 * DataSource's reads go through the app's pool.
 */
export function assertDatabaseCombination(database: unknown): void {
  if (typeof database !== 'object' || database === null) return;
  const has = (key: string): boolean => key in database;
  if (has('readUrl') && !has('url')) {
    const alongside = has('dataSource')
      ? ', not with database.dataSource (Kagzi reads through the app\'s pool)'
      : has('embedded') ? ', not with an embedded PostgreSQL (it has no replica)' : ' (the primary\'s URL) beside it';
    throw new InvalidOptionsError(`options.database.readUrl: a read replica is supported only with database.url${alongside}; remove readUrl or use { url, readUrl }`);
  }
  if (has('listenUrl') && has('embedded')) {
    throw new InvalidOptionsError('options.database.listenUrl: the embedded PostgreSQL needs no listen URL (Kagzi connects to it directly); remove listenUrl');
  }
}

/** `database` from the options, else from KAGZI_DATABASE_URL / DATABASE_URL (with the replica and listen URLs of the environment), else embedded. */
export function resolveDatabase(options: KagziModuleOptions, env: NodeJS.ProcessEnv): ResolvedDatabase {
  const db = options.database;
  if (db && 'url' in db) return { kind: 'url', url: db.url, ...defined({ readUrl: db.readUrl, listenUrl: db.listenUrl }) };
  if (db && 'dataSource' in db) return { kind: 'dataSource', dataSource: db.dataSource, ...defined({ listenUrl: db.listenUrl }) };
  if (db && 'embedded' in db) {
    const e = db.embedded === true ? {} : db.embedded;
    return { kind: 'embedded', dataDir: e.dataDir ?? '.kagzi', port: e.port };
  }
  const readUrl = fromEnv(env, ENV.read);
  const listenUrl = fromEnv(env, ENV.listen);
  const url = env.KAGZI_DATABASE_URL || env.DATABASE_URL;
  if (url) return { kind: 'url', url, ...defined({ readUrl, listenUrl }) };
  // A replica or listen URL without a primary is a half-done configuration, not a reason to start an embedded server.
  const stray = readUrl !== undefined ? ENV.read : listenUrl !== undefined ? ENV.listen : undefined;
  if (stray) throw new InvalidOptionsError(`${stray} is set but KAGZI_DATABASE_URL and DATABASE_URL are not: set one of them to the primary's URL, or unset ${stray}`);
  return { kind: 'embedded', dataDir: '.kagzi' };
}

/** An environment URL, checked like the option; an empty variable counts as unset. */
function fromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  if (!value) return undefined;
  if (!isPostgresUrl(value)) throw new InvalidOptionsError(`${name}: ${POSTGRES_URL_MESSAGE}; got "${value.slice(0, 40)}"`);
  return value;
}

function defined<T extends Record<string, string | undefined>>(values: T): Partial<Record<keyof T, string>> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<Record<keyof T, string>>;
}

/** A TypeORM DataSource on PostgreSQL through pg (what `database: { dataSource }` accepts). */
function isPostgresDataSource(value: unknown): value is DataSource {
  const options = (value as { options?: { type?: unknown } } | null)?.options;
  return typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function' && options?.type === 'postgres';
}
