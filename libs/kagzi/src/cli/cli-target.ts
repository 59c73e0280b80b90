import { CliError, CliUsageError } from './cli-errors';

/** The options every command takes (`kagzi --database-url … --schema … --json <command>`). */
export interface GlobalOptions {
  databaseUrl?: string;
  readDatabaseUrl?: string;
  schema: string;
  json?: boolean;
}

/** The database a command works on, and the URL as it may be shown (password hidden). */
export interface CliTarget {
  url: string;
  /** A read replica for the commands that only display (`runs list`, `runs show`, `stats`, …). */
  readUrl?: string;
  /** A direct connection for LISTEN and `migrate` when `url` goes through a pooler. */
  listenUrl?: string;
  schema: string;
  shownUrl: string;
}

/** The same rule KagziModule applies to `schema`. */
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * --database-url, else KAGZI_DATABASE_URL or DATABASE_URL (the library's order); no embedded fallback.
 * The replica: --read-database-url, else KAGZI_READ_DATABASE_URL; the listen URL: KAGZI_LISTEN_DATABASE_URL.
 * As in the library, the environment's replica and listen URLs apply only to the environment's URL: they
 * may belong to another database than one named with --database-url.
 */
export function resolveTarget(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): CliTarget {
  const url = options.databaseUrl || env.KAGZI_DATABASE_URL || env.DATABASE_URL;
  if (!url) throw new CliUsageError('no database: pass --database-url <url> or set DATABASE_URL');
  const fromEnv = !options.databaseUrl;
  const readUrl = options.readDatabaseUrl || (fromEnv ? env.KAGZI_READ_DATABASE_URL : undefined) || undefined;
  const listenUrl = (fromEnv ? env.KAGZI_LISTEN_DATABASE_URL : undefined) || undefined;
  if (!SCHEMA.test(options.schema) || options.schema.startsWith('pg_')) {
    throw new CliError(`--schema must be a lower-case SQL identifier of at most 63 characters, not starting with pg_; got "${options.schema}"`);
  }
  return { url, ...(readUrl ? { readUrl } : {}), ...(listenUrl ? { listenUrl } : {}), schema: options.schema, shownUrl: hidePassword(url) };
}

/** `postgres://app:***@db:5432/app`: error messages and output never carry the password. */
export function hidePassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/(password=)[^\s&]*/gi, '$1***');
  }
}
