import { Logger } from '@nestjs/common';
import { type ClientConfig, type Pool, type PoolConfig, type QueryConfig, type QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { poolSize } from '../common/limits';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { connectWithRetry } from './connection-retry';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from './embedded-postgres.launcher';
import { resolveEmbeddedPostgres } from './embedded-postgres.package';
import { endPool, openPool, READ_POOL_SIZE } from './pg-pools';
import { migrateSchema } from './schema-migrator';
import { statementName } from './schema-identifiers';
import { BoundStatement } from './statement';

/** Runs one bound statement and returns its rows. */
export type StatementRunner = <R extends QueryResultRow>(statement: BoundStatement) => Promise<R[]>;

/** How Kagzi reaches its database: the pool's settings, the direct session's, and what it owns. */
interface DatabaseParts {
  /** Every statement Kagzi runs goes through this pool's `query` or `connect`. */
  pool: Pool;
  /** The pool's settings (a transactional step's DataSource uses them too). */
  connection: ClientConfig;
  /** A direct session: the LISTEN connection and migrations (`database.listenUrl`, else the pool's settings). */
  session: ClientConfig;
  /** The read replica's database (`database.readUrl`), for reads that only display. */
  reads?: KagziDatabase;
  embedded?: EmbeddedPostgresHandle;
  /** The app's pool (`database: { dataSource }`): the app ends it, not Kagzi. */
  shared?: boolean;
}

/**
 * The process's connection to Kagzi's PostgreSQL: a pg pool of its own for every statement Kagzi runs
 * and, in embedded mode, the server it started; with `readUrl`, a second pool on the replica for reads
 * that only display (`reads`). Hot-path SQL goes straight to the pool as named prepared statements
 * (unnamed with `preparedStatements: false`): one round trip, no query-runner bookkeeping. TypeORM only
 * applies the migrations at boot (users can run the same migrations with their own TypeORM tooling), on
 * a one-connection DataSource on the direct session, closed again before the pool opens.
 */
export class KagziDatabase {
  private static readonly logger = new Logger('Kagzi');
  private closed = false;
  /** Every statement Kagzi runs goes through this pool's `query` or `connect`. */
  readonly pool: Pool;
  /** How to open a connection with the pool's settings. */
  readonly connection: ClientConfig;
  /** How to open a session of Kagzi's own that must keep its state (the LISTEN connection, migrations): not through a transaction-mode pooler. */
  readonly session: ClientConfig;
  /**
   * Where reads that only display go (`listRuns`, `getRun`, the dashboard's and the CLI's lists): the
   * replica's pool with `database.readUrl`, else this same database. Nothing that decides reads it.
   */
  readonly reads: KagziDatabase;
  private readonly embedded?: EmbeddedPostgresHandle;
  private readonly shared: boolean;

  private constructor(
    readonly schema: string,
    /** false: statements go unnamed, for poolers that give each transaction another server connection. */
    private readonly preparedStatements: boolean,
    parts: DatabaseParts,
  ) {
    this.pool = parts.pool;
    this.connection = parts.connection;
    this.session = parts.session;
    this.reads = parts.reads ?? this;
    this.embedded = parts.embedded;
    this.shared = parts.shared ?? false;
  }

  /** The connection URL, when Kagzi was given one (or started the embedded server); '' with a shared DataSource set up otherwise. */
  get url(): string {
    return this.connection.connectionString ?? '';
  }

  static async open(options: ResolvedKagziOptions): Promise<KagziDatabase> {
    if (options.database.kind === 'dataSource') return KagziDatabase.share(options.database.dataSource, options);
    let embedded: EmbeddedPostgresHandle | undefined;
    let url: string;
    let session: ClientConfig;
    if (options.database.kind === 'url') {
      url = options.database.url;
      session = { connectionString: options.database.listenUrl ?? url };
    } else {
      resolveEmbeddedPostgres(); // an optional dependency: say how to install it before doing anything else
      const started = Date.now();
      embedded = await startEmbeddedPostgres({
        dataDir: options.database.dataDir,
        port: options.database.port,
        log: (line) => KagziDatabase.logger.warn(`embedded PostgreSQL: ${line}`),
      });
      url = embedded.url;
      session = { connectionString: url };
      KagziDatabase.logger.log(`Embedded PostgreSQL ready on port ${embedded.port} (data in ${embedded.dataDir}, ${Date.now() - started} ms)`);
      KagziDatabase.logger.warn('Embedded PostgreSQL is for development only: in production set DATABASE_URL (or database.url)');
    }
    const readUrl = options.database.kind === 'url' ? options.database.readUrl : undefined;
    const opened: Pool[] = [];
    try {
      // A database that is still starting (or restarting) when the app boots is waited for, not fatal.
      const pool = await KagziDatabase.withRetry(options, async () => {
        if (options.migrationsRun) await migrateSchema(session, options.schema);
        return openPool({ connectionString: url, max: poolSize(options.worker ? options.worker.concurrency : undefined) }, KagziDatabase.logger);
      });
      opened.push(pool);
      let reads: KagziDatabase | undefined;
      if (readUrl !== undefined) {
        const readPool = await KagziDatabase.withRetry(options, () => openPool({ connectionString: readUrl, max: READ_POOL_SIZE }, KagziDatabase.logger));
        opened.push(readPool);
        const readConnection = { connectionString: readUrl };
        reads = new KagziDatabase(options.schema, options.preparedStatements, { pool: readPool, connection: readConnection, session: readConnection });
      }
      return new KagziDatabase(options.schema, options.preparedStatements, { pool, connection: { connectionString: url }, session, reads, embedded });
    } catch (err: unknown) {
      await Promise.all(opened.map((p) => p.end().catch(() => undefined)));
      await embedded?.stop().catch(() => undefined);
      throw err;
    }
  }

  /**
   * `database: { dataSource }`: Kagzi's statements go through the app's TypeORM pool (one pool for the
   * app and its workflows); migrations and the LISTEN connection use connections of their own, on
   * `listenUrl` or else with the same settings (a LISTEN must keep its session, which a pooled connection does not).
   */
  private static async share(dataSource: DataSource, options: ResolvedKagziOptions): Promise<KagziDatabase> {
    if (!dataSource.isInitialized) {
      throw new InvalidOptionsError('database.dataSource is not initialized: Kagzi boots after it is (TypeOrmModule initializes it; by hand, await dataSource.initialize() first)');
    }
    const pool = (dataSource.driver as unknown as { master?: Pool }).master;
    if (!pool || typeof pool.query !== 'function') throw new InvalidOptionsError("database.dataSource: its driver has no pg pool; use type 'postgres'");
    const { max: _max, min: _min, idleTimeoutMillis: _idle, maxUses: _uses, allowExitOnIdle: _exit, ...connection } = (pool as unknown as { options: PoolConfig }).options;
    const listenUrl = options.database.kind === 'dataSource' ? options.database.listenUrl : undefined;
    const session: ClientConfig = listenUrl === undefined ? connection : { connectionString: listenUrl };
    if (options.migrationsRun) await KagziDatabase.withRetry(options, () => migrateSchema(session, options.schema));
    return new KagziDatabase(options.schema, options.preparedStatements, { pool, connection, session, shared: true });
  }

  private static withRetry<T>(options: ResolvedKagziOptions, attempt: () => Promise<T>): Promise<T> {
    return connectWithRetry(attempt, { retryAttempts: options.retryAttempts, retryDelayMs: options.retryDelayMs, logger: KagziDatabase.logger });
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
    if (this.reads !== this) await this.reads.close();
    if (this.shared) return; // the app's pool: it stays open for the app
    await endPool(this.pool, this.embedded ? 2_000 : undefined);
    await this.embedded?.stop();
  }
}
