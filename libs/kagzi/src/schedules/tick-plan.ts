import { CronSchedule, latestTick, nextTick } from './cron';

/** A schedule this process fires: a served (name, version) that declares one. */
export interface LocalSchedule extends CronSchedule {
  readonly name: string;
  readonly version: number;
}

/** A tick a schedule reached: the one to fire, and the one after it (the row's next_run_at once fired). */
export interface DueTick {
  schedule: LocalSchedule;
  tick: Date;
  nextTick: Date;
}

/**
 * Which ticks this process should fire, without a database: at any moment, each schedule's latest tick
 * at or before now, if the process was already running then and has not fired it yet. So a tick is
 * retried (after a failed statement) only until a later one supersedes it, and a tick from before the
 * process started is never fired: ticks missed while nothing ran are not replayed.
 */
export class TickPlan {
  /** Per schedule, the last tick fired (its statement committed), in ms. */
  private readonly fired = new Map<LocalSchedule, number>();

  constructor(
    readonly schedules: readonly LocalSchedule[],
    private readonly since: Date,
  ) {}

  due(now: Date): DueTick[] {
    const due: DueTick[] = [];
    for (const schedule of this.schedules) {
      const tick = latestTick(schedule, now);
      if (!tick || tick.getTime() < this.since.getTime() || tick.getTime() <= (this.fired.get(schedule) ?? -Infinity)) continue;
      due.push({ schedule, tick, nextTick: nextTick(schedule, tick) });
    }
    return due;
  }

  /** Records ticks whose statement committed, whether this process or another one started their runs. */
  markFired(ticks: readonly DueTick[]): void {
    for (const t of ticks) this.fired.set(t.schedule, t.tick.getTime());
  }

  /** When the next tick of any schedule comes, after `now`. */
  nextWakeAt(now: Date): Date | undefined {
    let earliest: number | undefined;
    for (const schedule of this.schedules) {
      const at = nextTick(schedule, now).getTime();
      if (earliest === undefined || at < earliest) earliest = at;
    }
    return earliest === undefined ? undefined : new Date(earliest);
  }
}
