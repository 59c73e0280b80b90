import { workflowClock } from '../common/clock';
import { Duration, toMilliseconds } from '../common/duration';
import { KagziDatabase } from '../persistence/kagzi-database';
import { skipTime } from '../persistence/sql/skip-time.sql';
import { ScheduleTicker } from '../schedules/schedule-ticker';
import { KagziWorker } from '../worker/kagzi.worker';

/** What one `advance` moved: rows whose due time came closer (runs, step waits, sleeps). */
export interface ClockAdvance {
  runs: number;
  waits: number;
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

  async advance(duration: Duration): Promise<ClockAdvance> {
    const ms = toMilliseconds(duration, 'kt.clock.advance() duration');
    this.skippedMs += ms;
    workflowClock.offsetMs += ms;
    const [moved] = await this.db.run<{ runs: number; waits: number; sleeps: number }>(skipTime.with({ ms }));
    this.worker.skipTime(ms);
    this.ticker.skipTime();
    return moved;
  }

  /** Takes back this app's advances from the process clock (`kt.close()` does it). */
  reset(): void {
    workflowClock.offsetMs -= this.skippedMs;
    this.skippedMs = 0;
  }
}
