import { Logger } from '@nestjs/common';
import { Pool, type ClientConfig, type PoolConfig, type QueryConfig, type QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { KAGZI_MIGRATIONS } from '../../../../migrations';
import { poolSize } from '../common/limits';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { connectWithRetry } from './connection-retry';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from './embedded-postgres.launcher';
import { resolveEmbeddedPostgres } from './embedded-postgres.package';
import { statementName } from './schema-identifiers';
import { BoundStatement } from './statement';

/** Runs one bound statement and returns its rows. */
export type StatementRunner = <R extends QueryResultRow>(statement: BoundStatement) => Promise<R[]>;

/**
 * The process's connection to Kagzi's PostgreSQL: a pg pool of its own for every statement Kagzi runs
 * and, in embedded mode, the server it started. Hot-path SQL goes straight to the pool as named
 * prepared statements (unnamed with `preparedStatements: false`): one round trip, no query-runner
 * bookkeeping. TypeORM only applies the migrations at boot (users can run the same migrations with
 * their own TypeORM tooling), on a one-connection DataSource that is closed again before the pool opens.
 */
export class KagziDatabase {
  private static readonly logger = new Logger('Kagzi');
  private closed = false;

  private constructor(
    /** Every statement Kagzi runs goes through this pool's `query` or `connect`. */
    readonly pool: Pool,
    readonly schema: string,
    /** How to open a connection of Kagzi's own (the LISTEN connection, migrations): the pool's settings. */
    readonly connection: ClientConfig,
    /** false: statements go unnamed, for poolers that give each transaction another server connection. */
    private readonly preparedStatements: boolean,
    private readonly embedded?: EmbeddedPostgresHandle,
    /** The app's pool (`database: { dataSource }`): the app ends it, not Kagzi. */
    private readonly shared = false,
  ) {}

  /** The connection URL, when Kagzi was given one (or started the embedded server); '' with a shared DataSource set up otherwise. */
  get url(): string {
    return this.connection.connectionString ?? '';
  }

  static async open(options: ResolvedKagziOptions): Promise<KagziDatabase> {
    if (options.database.kind === 'dataSource') return KagziDatabase.share(options.database.dataSource, options);
    let embedded: EmbeddedPostgresHandle | undefined;
    let url: string;
    if (options.database.kind === 'url') {
      url = options.database.url;
    } else {
      resolveEmbeddedPostgres(); // an optional dependency: say how to install it before doing anything else
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
    let pool: Pool;
    try {
      // A database that is still starting (or restarting) when the app boots is waited for, not fatal.
      pool = await connectWithRetry(() => KagziDatabase.connect(url, options), {
        retryAttempts: options.retryAttempts,
        retryDelayMs: options.retryDelayMs,
        logger: KagziDatabase.logger,
      });
    } catch (err: unknown) {
      await embedded?.stop().catch(() => undefined);
      throw err;
    }
    return new KagziDatabase(pool, options.schema, { connectionString: url }, options.preparedStatements, embedded);
  }

  /**
   * `database: { dataSource }`: Kagzi's statements go through the app's TypeORM pool (one pool for the
   * app and its workflows); migrations and the LISTEN connection use connections of their own with the
   * same settings (a LISTEN must keep its session, which a pooled connection does not).
   */
  private static async share(dataSource: DataSource, options: ResolvedKagziOptions): Promise<KagziDatabase> {
    if (!dataSource.isInitialized) {
      throw new InvalidOptionsError('database.dataSource is not initialized: Kagzi boots after it is (TypeOrmModule initializes it; by hand, await dataSource.initialize() first)');
    }
    const pool = (dataSource.driver as unknown as { master?: Pool }).master;
    if (!pool || typeof pool.query !== 'function') throw new InvalidOptionsError("database.dataSource: its driver has no pg pool; use type 'postgres'");
    const { max: _max, min: _min, idleTimeoutMillis: _idle, maxUses: _uses, allowExitOnIdle: _exit, ...connection } = (pool as unknown as { options: PoolConfig }).options;
    if (options.migrationsRun) {
      await connectWithRetry(() => KagziDatabase.migrate(connection, options.schema), { retryAttempts: options.retryAttempts, retryDelayMs: options.retryDelayMs, logger: KagziDatabase.logger });
    }
    return new KagziDatabase(pool, options.schema, connection, options.preparedStatements, undefined, true);
  }

  /** One connection attempt: migrations, then a fresh pool, so a failed attempt leaves nothing half-open behind. */
  private static async connect(url: string, options: ResolvedKagziOptions): Promise<Pool> {
    if (options.migrationsRun) await KagziDatabase.migrate({ connectionString: url }, options.schema);
    const pool = new Pool({ connectionString: url, max: poolSize(options.worker ? options.worker.concurrency : undefined) });
    // An idle connection the server dropped (a restart, a failover) errors here; the next query reconnects.
    pool.on('error', (err) => KagziDatabase.logger.debug(`an idle database connection closed: ${err.message}`));
    try {
      (await pool.connect()).release(); // the boot fails (or retries) now, not at the first query
      return pool;
    } catch (err: unknown) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Applies pending migrations with TypeORM, on one connection, closed again afterwards. Processes that
   * boot together (replicas of a deploy) take turns: a session advisory lock per schema on that one
   * connection, so the first applies them and the others find nothing pending.
   */
  private static async migrate(connection: ClientConfig, schema: string): Promise<void> {
    const dataSource = new DataSource({
      type: 'postgres',
      schema,
      migrations: KAGZI_MIGRATIONS,
      migrationsTableName: 'kagzi_migrations',
      migrationsTransactionMode: 'each',
      extra: { ...connection, max: 1 }, // the pg settings as given (a URL, or host, user, ssl, …)
    });
    try {
      await dataSource.initialize();
      await dataSource.query('select pg_advisory_lock(hashtext($1))', [`kagzi.migrations:${schema}`]);
      // TypeORM creates its migrations table in the DataSource's schema, so the schema must exist first.
      await dataSource.query(`create schema if not exists "${schema}"`);
      await dataSource.runMigrations({ transaction: 'each' });
      await dataSource.query('select pg_advisory_unlock(hashtext($1))', [`kagzi.migrations:${schema}`]);
    } finally {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
    }
  }

  /** Runs `work` in one transaction on one connection; its statements are sent as `run` sends them. */
  async transaction<T>(work: (run: StatementRunner) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const result = await work(async <R extends QueryResultRow>(statement: BoundStatement) => (await client.query<R>(this.config(statement))).rows);
      await client.query('commit');
      return result;
    } catch (err: unknown) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Runs one statement, as a named prepared statement (parsed once per connection) unless they are turned off. */
  async run<R extends QueryResultRow>(statement: BoundStatement): Promise<R[]> {
    const result = await this.pool.query<R>(this.config(statement));
    return result.rows;
  }

  private config(statement: BoundStatement): QueryConfig {
    const config: QueryConfig = { text: statement.text(this.schema), values: statement.values };
    // An unnamed statement is parsed on every send, but needs nothing prepared on the connection beforehand.
    if (this.preparedStatements) config.name = statementName(this.schema, statement.name);
    return config;
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
    if (this.shared) return; // the app's pool: it stays open for the app
    const disconnected = this.embedded ? waitForRemovals(pool, open, 2_000) : Promise.resolve();
    await pool.end();
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
