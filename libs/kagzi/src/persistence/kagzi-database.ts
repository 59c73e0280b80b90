import { Logger } from '@nestjs/common';
import type { Pool, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { KAGZI_MIGRATIONS } from '../../../../migrations';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { connectWithRetry } from './connection-retry';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from './embedded-postgres.launcher';
import { statementName } from './schema-identifiers';

/**
 * The process's connection to Kagzi's PostgreSQL: a TypeORM DataSource (migrations, pool) and,
 * in embedded mode, the server it started. Hot-path SQL goes straight to the DataSource's pg pool
 * as named prepared statements: one round trip, no query-runner bookkeeping.
 */
export class KagziDatabase {
  private static readonly logger = new Logger('Kagzi');
  private closed = false;

  private constructor(
    readonly dataSource: DataSource,
    readonly schema: string,
    readonly url: string,
    private readonly embedded?: EmbeddedPostgresHandle,
  ) {}

  static async open(options: ResolvedKagziOptions): Promise<KagziDatabase> {
    let embedded: EmbeddedPostgresHandle | undefined;
    let url: string;
    if (options.database.kind === 'url') {
      url = options.database.url;
    } else {
      const started = Date.now();
      embedded = await startEmbeddedPostgres({
        dataDir: options.database.dataDir,
        port: options.database.port,
        log: (line) => KagziDatabase.logger.warn(`embedded PostgreSQL: ${line}`),
      });
      url = embedded.url;
      KagziDatabase.logger.log(`Embedded PostgreSQL ready on port ${embedded.port} (data in ${embedded.dataDir}, ${Date.now() - started} ms)`);
      KagziDatabase.logger.warn('Embedded PostgreSQL is for development only: in production set DATABASE_URL (or database.url)');
    }
    let dataSource: DataSource;
    try {
      // A database that is still starting (or restarting) when the app boots is waited for, not fatal.
      dataSource = await connectWithRetry(() => KagziDatabase.connect(url, options), {
        retryAttempts: options.retryAttempts,
        retryDelayMs: options.retryDelayMs,
        logger: KagziDatabase.logger,
      });
    } catch (err: unknown) {
      await embedded?.stop().catch(() => undefined);
      throw err;
    }
    return new KagziDatabase(dataSource, options.schema, url, embedded);
  }

  /** One connection attempt: a fresh DataSource each time, so a failed attempt leaves no half-open pool behind. */
  private static async connect(url: string, options: ResolvedKagziOptions): Promise<DataSource> {
    const dataSource = new DataSource({
      type: 'postgres',
      url,
      schema: options.schema,
      migrations: KAGZI_MIGRATIONS,
      migrationsTableName: 'kagzi_migrations',
      migrationsTransactionMode: 'each',
      extra: { max: options.worker ? Math.max(10, Math.min(options.worker.concurrency + 4, 50)) : 10 },
    });
    try {
      await dataSource.initialize();
      if (options.migrationsRun) {
        // TypeORM creates its migrations table in the DataSource's schema, so the schema must exist first.
        await dataSource.query(`create schema if not exists "${options.schema}"`);
        await dataSource.runMigrations({ transaction: 'each' });
      }
      return dataSource;
    } catch (err: unknown) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
      throw err;
    }
  }

  get pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }

  /** Runs `work` in one transaction on one connection; its statements are named prepared statements too. */
  async transaction<T>(work: (query: <R extends QueryResultRow>(name: string, text: string, values: unknown[]) => Promise<R[]>) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const result = await work(async <R extends QueryResultRow>(name: string, text: string, values: unknown[]) => {
        const res = await client.query<R>({ name: statementName(this.schema, name), text, values });
        return res.rows;
      });
      await client.query('commit');
      return result;
    } catch (err: unknown) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Runs one statement as a named prepared statement (parsed once per connection). */
  async query<R extends QueryResultRow>(name: string, text: string, values: unknown[]): Promise<R[]> {
    const result = await this.pool.query<R>({ name: statementName(this.schema, name), text, values });
    return result.rows;
  }

  /** Nest lifecycle: runs after every worker has drained (beforeApplicationShutdown). */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pool = this.pool;
    const open = pool.totalCount;
    // pg-pool's end() resolves before its sockets have closed; stopping an embedded server then
    // makes it log FATAL "terminating connection" for each one. Wait for them (briefly) first.
    const disconnected = this.embedded ? waitForRemovals(pool, open, 2_000) : Promise.resolve();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await disconnected;
    await this.embedded?.stop();
  }
}

function waitForRemovals(pool: Pool, count: number, timeoutMs: number): Promise<void> {
  if (count === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let removed = 0;
    const timer = setTimeout(finish, timeoutMs);
    function onRemove(): void {
      if (++removed >= count) finish();
    }
    function finish(): void {
      clearTimeout(timer);
      pool.off('remove', onRemove);
      resolve();
    }
    pool.on('remove', onRemove);
  });
}
