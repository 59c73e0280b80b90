import { EmbeddedPostgresHandle, startEmbeddedPostgres } from '@kagzi/nestjs';

/** Where the demo keeps its data: the server in DATABASE_URL / KAGZI_DATABASE_URL, or one it starts itself. */
export interface DemoDatabase {
  url: string;
  /** For the first line the demo prints, e.g. "PostgreSQL at 127.0.0.1:5432/kagzi". */
  description: string;
  /** Stops the embedded server, if the demo started one; call it after the app has closed. */
  close(): Promise<void>;
}

/**
 * The app's TypeORM DataSource and Kagzi share one database (and one pool), so the URL is needed before
 * Nest builds its modules: with neither variable set, the embedded PostgreSQL (data in ./.kagzi) is started
 * here rather than by KagziModule.
 */
export async function openDemoDatabase(log?: (line: string) => void): Promise<DemoDatabase> {
  const url = process.env.KAGZI_DATABASE_URL || process.env.DATABASE_URL;
  if (url) return { url, description: describeUrl(url), close: async () => undefined };
  const server: EmbeddedPostgresHandle = await startEmbeddedPostgres({ dataDir: '.kagzi', log });
  return { url: server.url, description: `an embedded PostgreSQL (data in ./.kagzi, port ${server.port})`, close: () => server.stop() };
}

function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `PostgreSQL at ${parsed.host}${parsed.pathname}`;
  } catch {
    return 'the PostgreSQL in DATABASE_URL';
  }
}
