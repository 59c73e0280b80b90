import { workflowClock } from '../common/clock';
import { UsageError } from '../errors/usage.error';
import { Duration, toMilliseconds } from '../common/duration';
import { KagziDatabase } from '../persistence/kagzi-database';
import { skipTime } from '../persistence/sql/skip-time.sql';
import { ScheduleTicker } from '../schedules/schedule-ticker';
import { KagziWorker } from '../worker/kagzi.worker';

/** What one `advance` moved: rows whose due time came closer (runs, step waits, sleeps). */
export interface ClockAdvance {
  /** Runs not held by a worker whose due time moved (delayed starts, back-offs, parked runs). */
  runs: number;
  /** Step waits whose due time moved (retry back-offs, signal wait timeouts). */
  waits: number;
  /** Durable sleeps whose end moved. */
  sleeps: number;
}

/**
 * Virtual time for a testing app. `advance(duration)` makes everything due within `duration` due now —
 * durable sleeps, retry back-offs, delayed starts, signal wait timeouts, schedule ticks — by moving
 * the stored due times (one statement) and the worker's in-process waits, and moves `ctx.now()` (and the
 * clock schedules tick by) ahead by `duration`.
 * Production code pays nothing for it: due times stay in the database's clock, and only this class moves them.
 */
export class TestClock {
  private skippedMs = 0;
  private closed = false;

  /** @internal `KagziTesting.create` makes the clock (`kt.clock`). */
  constructor(
    private readonly db: KagziDatabase,
    private readonly worker: KagziWorker,
    private readonly ticker: ScheduleTicker,
  ) {}

  /** How far this app has skipped time ahead. */
  get offsetMs(): number {
    return this.skippedMs;
  }

  /**
   * The virtual time: the wall clock plus every duration advanced so far (what `ctx.now()` records). It
   * is one clock for the process: testing apps alive at once see each other's advances in `ctx.now()`.
   */
  now(): Date {
    return workflowClock.now();
  }

  /**
   * Moves time ahead by `duration`: what is due within it becomes due now. Only waits already recorded
   * move: advance once the run has reached its sleep or wait (`waitForStatus(handle, 'SLEEPING')`), not
   * before — a sleep that starts after the advance counts its full duration from the new time.
   *
   * @throws {UsageError} after `kt.close()`.
   * @throws {InvalidOptionsError} when `duration` is not a duration.
   */
  async advance(duration: Duration): Promise<ClockAdvance> {
    const ms = toMilliseconds(duration, 'kt.clock.advance() duration');
    if (this.closed) throw new UsageError('kt.clock.advance() after kt.close(): the testing app is gone; create another');
    // The stored due times first: if that fails, the clock has not moved either.
    const [moved] = await this.db.run<{ runs: number; waits: number; sleeps: number }>(skipTime.with({ ms }));
    this.skippedMs += ms;
    workflowClock.offsetMs += ms;
    this.worker.skipTime(ms);
    this.ticker.skipTime();
    return moved;
  }

  /** Takes back this app's advances from the process clock (`kt.close()` does it); advancing is refused afterwards. */
  reset(): void {
    this.closed = true;
    workflowClock.offsetMs -= this.skippedMs;
    this.skippedMs = 0;
  }
}
