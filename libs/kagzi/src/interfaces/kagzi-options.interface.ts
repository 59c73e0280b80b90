import { Duration } from '../common/duration';
import { ErrorKind } from '../errors/error-kind';
import { RetryPolicy } from '../execution/retry-policy';

export type DatabaseOptions = { url: string } | { embedded: true | { dataDir?: string; port?: number } };

export interface WorkerOptions {
  /** Unique among live workers. Default `${hostname}-${pid}-${short random}`. */
  name?: string;
  /** Max runs executing at once in this process. Default 10. */
  concurrency?: number;
  /** Fallback poll; NOTIFY wakes workers at once. Default '1s'. */
  pollInterval?: Duration;
  /** How long a claim holds without a heartbeat. Default '30s'. */
  leaseDuration?: Duration;
  /** How often held leases are extended. Default '10s'. */
  heartbeatInterval?: Duration;
  /** Drain time before in-flight runs are handed back. Default '30s'. */
  shutdownTimeout?: Duration;
  /** STOPPED and LOST workers, and worker events, older than this are deleted. Default '7d'. */
  retention?: Duration;
  /** Workflow names this worker serves. Default: all registered. */
  workflows?: string[];
}

export interface KagziModuleOptions {
  /** Default: KAGZI_DATABASE_URL / DATABASE_URL if set, else an embedded PostgreSQL under `.kagzi/`. */
  database?: DatabaseOptions;
  /** Default 'kagzi'; every table lives in this schema. */
  schema?: string;
  /** Default true: apply pending migrations at boot. */
  migrationsRun?: boolean;
  /** `false` makes a client-only process (starts runs, runs none). */
  worker?: WorkerOptions | false;
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
}
