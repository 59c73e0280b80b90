import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { assertDatabaseCombination, databaseOptionsSchema, resolveDatabase, ResolvedDatabase } from './resolve-database';
import { DurationBounds, durationOption, toMilliseconds } from './duration';
import { survivesFailedHeartbeat } from './lease-timing';
import { inReplayMode } from './replay-mode';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { ClassifyErrorHook } from '../errors/error-classifier';
import { RetryPolicy } from '../execution/retry-policy';
import { KagziModuleOptions } from '../interfaces/kagzi-options.interface';

export type { ResolvedDatabase } from './resolve-database';

export interface ResolvedWorkerOptions {
  name: string;
  concurrency: number;
  pollIntervalMs: number;
  leaseDurationMs: number;
  heartbeatIntervalMs: number;
  shutdownTimeoutMs: number;
  retentionMs: number;
  workflows?: string[];
}

/** Module options with every default applied and every value checked. */
export interface ResolvedKagziOptions {
  database: ResolvedDatabase;
  schema: string;
  migrationsRun: boolean;
  worker: ResolvedWorkerOptions | false;
  defaultRetry: RetryPolicy;
  /** Runs that ended longer ago than this are deleted; undefined: kept forever. */
  retentionMs?: number;
  classifyError?: ClassifyErrorHook;
  maxPayloadBytes: number;
  retryAttempts: number;
  retryDelayMs: number;
  reconnectTimeoutMs: number;
  /** false: every statement is sent unnamed (for poolers in transaction mode). */
  preparedStatements: boolean;
  /** Booted by `kagzi replay` (see replay-mode.ts): nothing is written at boot; worker, migrations, retention and boot retries are off. */
  replay?: true;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Worker durations outside these bounds are refused at boot: zero or tiny values make a worker spin
 * (a 0 ms heartbeat commits hundreds of times a second and never claims), huge ones mean a crash is
 * never noticed. leaseDuration >= 2.5 x heartbeatInterval is checked on top of these.
 */
const WORKER_DURATION_BOUNDS = {
  pollInterval: { min: 10, max: HOUR },
  leaseDuration: { min: 1_000, max: HOUR },
  heartbeatInterval: { min: 100, max: HOUR },
  shutdownTimeout: { min: 0, max: 24 * HOUR },
  retention: { min: MINUTE },
} as const satisfies Record<string, DurationBounds>;

const workerSchema = z
  .object({
    name: z.string('must be a string').min(1, 'must not be empty').optional(),
    concurrency: z.number('must be a number').int('must be an integer').min(1, 'must be at least 1').max(10_000, 'must be at most 10000').optional(),
    pollInterval: durationOption(WORKER_DURATION_BOUNDS.pollInterval).optional(),
    leaseDuration: durationOption(WORKER_DURATION_BOUNDS.leaseDuration).optional(),
    heartbeatInterval: durationOption(WORKER_DURATION_BOUNDS.heartbeatInterval).optional(),
    shutdownTimeout: durationOption(WORKER_DURATION_BOUNDS.shutdownTimeout).optional(),
    retention: durationOption(WORKER_DURATION_BOUNDS.retention).optional(),
    workflows: z.array(z.string('must be a workflow name').min(1, 'must not be empty'), 'must be an array of workflow names').optional(),
  })
  .strict();

const schema = z
  .object({
    database: databaseOptionsSchema.optional(),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier of at most 63 characters')
      .refine((name) => !name.startsWith('pg_'), "must not start with 'pg_': PostgreSQL reserves that prefix for its own schemas")
      .optional(),
    migrationsRun: z.boolean().optional(),
    retention: durationOption({ min: 1_000 }).optional(),
    worker: z.union([z.literal(false), workerSchema], 'must be false or an object of worker options').optional(),
    defaultRetry: z.custom<RetryPolicy>((v) => v instanceof RetryPolicy, 'must be a RetryPolicy (RetryPolicy.exponential(), .fixed() or .none())').optional(),
    classifyError: z.custom<ClassifyErrorHook>((v) => typeof v === 'function', 'must be a function').optional(),
    maxPayloadBytes: z.number().int().min(1).optional(),
    retryAttempts: z.number().int().min(0).max(1_000).optional(),
    // A boot that waits days for its database, or a call that hangs for one, is a misconfiguration.
    retryDelay: durationOption({ max: 10 * MINUTE }).optional(),
    reconnectTimeout: durationOption({ max: HOUR }).optional(),
    preparedStatements: z.boolean('must be true or false').optional(),
  })
  .strict();

/** Formats a zod failure as one line per problem, naming the option path. */
export function describeIssues(error: z.ZodError, root: string): string {
  return flattenIssues(error.issues, []).map((i) => `${[root, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
}

/**
 * A failed union reports only "Invalid input" at the union's path. Report instead the problems of the
 * branch the value was meant for: one whose type it has (fewest problems first), so that
 * `worker: { concurrency: 1.5 }` says `worker.concurrency: must be an integer`.
 */
function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): Array<{ path: PropertyKey[]; message: string }> {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union') {
      const meant = issue.errors
        .filter((branch) => !branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')))
        .sort((a, b) => a.length - b.length);
      if (meant.length > 0) return flattenIssues(meant[0], path);
    }
    return [{ path, message: issue.message }];
  });
}

export function resolveKagziOptions(options: KagziModuleOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedKagziOptions {
  assertDatabaseCombination(options.database);
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    throw new InvalidOptionsError(`Invalid KagziModule options: ${describeIssues(parsed.error, 'options')}`);
  }
  const replay = inReplayMode();
  const worker = replay ? false : options.worker;
  let resolvedWorker: ResolvedWorkerOptions | false = false;
  if (worker !== false) {
    const w = worker ?? {};
    const leaseDurationMs = toMilliseconds(w.leaseDuration ?? '30s', 'worker.leaseDuration');
    const heartbeatIntervalMs = toMilliseconds(w.heartbeatInterval ?? '10s', 'worker.heartbeatInterval');
    if (!survivesFailedHeartbeat(heartbeatIntervalMs, leaseDurationMs)) {
      throw new InvalidOptionsError(
        `worker.leaseDuration (${leaseDurationMs} ms) must be at least 2.5 x worker.heartbeatInterval (${heartbeatIntervalMs} ms), so that a lease survives one failed heartbeat; ` +
          `raise leaseDuration to ${Math.ceil(2.5 * heartbeatIntervalMs)} ms or lower heartbeatInterval to ${Math.floor(leaseDurationMs / 2.5)} ms`,
      );
    }
    resolvedWorker = {
      name: w.name ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
      concurrency: w.concurrency ?? 10,
      pollIntervalMs: toMilliseconds(w.pollInterval ?? '1s', 'worker.pollInterval'),
      leaseDurationMs,
      heartbeatIntervalMs,
      shutdownTimeoutMs: toMilliseconds(w.shutdownTimeout ?? '30s', 'worker.shutdownTimeout'),
      retentionMs: toMilliseconds(w.retention ?? '7d', 'worker.retention'),
      workflows: w.workflows,
    };
  }
  const database = resolveDatabase(options, env);
  if (replay && database.kind === 'embedded') {
    throw new InvalidOptionsError('In replay mode (kagzi replay) KagziModule needs a database URL (database.url, KAGZI_DATABASE_URL or DATABASE_URL): it starts no embedded PostgreSQL');
  }
  return {
    database,
    schema: options.schema ?? 'kagzi',
    migrationsRun: !replay && (options.migrationsRun ?? true),
    worker: resolvedWorker,
    defaultRetry: options.defaultRetry ?? RetryPolicy.none(),
    retentionMs: options.retention === undefined || replay ? undefined : toMilliseconds(options.retention, 'retention'),
    classifyError: options.classifyError,
    maxPayloadBytes: options.maxPayloadBytes ?? 1024 * 1024,
    retryAttempts: replay ? 0 : (options.retryAttempts ?? 9), // a replay fails at once, as every kagzi command does
    retryDelayMs: toMilliseconds(options.retryDelay ?? '3s', 'retryDelay'),
    reconnectTimeoutMs: toMilliseconds(options.reconnectTimeout ?? '10s', 'reconnectTimeout'),
    preparedStatements: options.preparedStatements ?? true,
    ...(replay ? { replay: true as const } : {}),
  };
}
