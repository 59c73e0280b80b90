import { Logger } from '@nestjs/common';
import { Pool, type PoolConfig } from 'pg';

/** Connections of the read pool (`database.readUrl`): display reads only, whatever the worker's concurrency. */
export const READ_POOL_SIZE = 10;

/**
 * Opens a pg pool and checks that it connects, so a boot fails (or retries) now, not at the first query;
 * a failed check leaves nothing open behind.
 */
export async function openPool(config: PoolConfig, logger: Logger): Promise<Pool> {
  const pool = new Pool(config);
  // An idle connection the server dropped (a restart, a failover) errors here; the next query reconnects.
  pool.on('error', (err) => logger.debug(`an idle database connection closed: ${err.message}`));
  try {
    (await pool.connect()).release();
    return pool;
  } catch (err: unknown) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/**
 * Ends a pool; with `waitMs`, also waits (that long at most) until its sockets have closed: pg-pool's
 * end() resolves before they have, and stopping an embedded server then makes it log FATAL
 * "terminating connection" for each one.
 */
export async function endPool(pool: Pool, waitMs?: number): Promise<void> {
  const disconnected = waitMs === undefined ? Promise.resolve() : waitForRemovals(pool, pool.totalCount, waitMs);
  await pool.end();
  await disconnected;
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
