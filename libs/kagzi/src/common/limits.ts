/**
 * The numbers Kagzi's rules are made of, named once. SQL that needs one interpolates it, so a
 * statement and the code that reads its result cannot disagree.
 */

/** SQLSTATE `unique_violation`: e.g. a live worker already holds the name being registered. */
export const PG_UNIQUE_VIOLATION = '23505';

/**
 * Output plus error bytes that still ride on a run's `finished` NOTIFY. A NOTIFY payload must stay
 * under 8,000 bytes or the whole statement fails; id, status and keys take under 100.
 */
export const NOTIFY_OUTCOME_BUDGET_BYTES = 7_000;

/** The latest instant a JavaScript Date can hold (ms since the epoch): "nothing is due". */
export const MAX_DATE_MS = 8.64e15;

/**
 * How far a `cause` chain is followed when classifying, serializing or recognising a connection
 * failure: deep enough for wrapper-of-wrapper errors, bounded against cycles.
 */
export const MAX_CAUSE_DEPTH = 5;

/**
 * A worker is live while its last heartbeat is younger than this many of its own heartbeat
 * intervals. The database applies the same rule in `worker_is_live()` (migration 6).
 */
export const LIVE_WORKER_HEARTBEATS = 3;

/**
 * The health check calls a worker loop "deaf" when it has not polled for this many poll intervals
 * plus the grace below while runs are due.
 */
export const DEAF_WORKER_POLLS = 3;
export const DEAF_WORKER_GRACE_MS = 1_000;

/** How often a process without a worker polls the outcomes of runs it awaits (NOTIFY usually comes first). */
export const CLIENT_POLL_INTERVAL_MS = 1_000;

/** Delay before the LISTEN connection reconnects after losing its socket. */
export const LISTEN_RECONNECT_DELAY_MS = 1_000;

/** Pool connections of a process without a worker, and the floor for one with a worker. */
export const MIN_POOL_SIZE = 10;
/** Connections beyond `concurrency` for heartbeats, claims and client calls running beside the runs. */
export const POOL_HEADROOM = 4;
/** Ceiling: past it, runs wait for a connection rather than exhaust the server's `max_connections`. */
export const MAX_POOL_SIZE = 50;

/** Size of the pg pool for a process: one connection per concurrent run plus headroom, within bounds. */
export function poolSize(workerConcurrency: number | undefined): number {
  if (workerConcurrency === undefined) return MIN_POOL_SIZE;
  return Math.max(MIN_POOL_SIZE, Math.min(workerConcurrency + POOL_HEADROOM, MAX_POOL_SIZE));
}

/** More branches than this in one `ctx.parallel`/`ctx.race` group is refused: nest groups or split the work into several runs. */
export const MAX_BRANCHES = 256;
