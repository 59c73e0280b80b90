import { CronExpressionParser } from 'cron-parser';
import { InvalidOptionsError } from '../errors/invalid-options.error';

/** A validated schedule: the expression as declared and an IANA time zone ('UTC' when none was given). */
export interface CronSchedule {
  readonly cron: string;
  readonly timezone: string;
}

/** Cron expressions are stored as text and compared on every tick: keep them short. */
const MAX_CRON_LENGTH = 200;

/**
 * Checks a declared schedule at boot: a bad expression, an unknown time zone, or an expression that
 * never fires (`0 0 31 2 *`) is an InvalidOptionsError naming the workflow (`workflow` is its label).
 */
export function parseSchedule(option: unknown, workflow: string): CronSchedule {
  const declared = typeof option === 'string' ? { cron: option, timezone: undefined } : option;
  if (typeof declared !== 'object' || declared === null || Array.isArray(declared)) {
    throw new InvalidOptionsError(`${workflow}: schedule must be a cron expression or { cron, timezone? }; got ${typeof option}`);
  }
  const { cron, timezone = 'UTC', ...rest } = declared as { cron?: unknown; timezone?: unknown };
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new InvalidOptionsError(`${workflow}: schedule has unknown option(s) ${extra.join(', ')}; it takes cron and timezone`);
  if (typeof cron !== 'string' || cron.trim() === '' || cron.length > MAX_CRON_LENGTH) {
    throw new InvalidOptionsError(`${workflow}: schedule cron must be a non-empty cron expression of at most ${MAX_CRON_LENGTH} characters; got ${JSON.stringify(cron)}`);
  }
  if (typeof timezone !== 'string' || !knownTimeZone(timezone)) {
    throw new InvalidOptionsError(`${workflow}: schedule timezone ${JSON.stringify(timezone)} is not an IANA time zone (e.g. 'UTC', 'Europe/Berlin')`);
  }
  const schedule = { cron: cron.trim(), timezone };
  try {
    nextTick(schedule, new Date());
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InvalidOptionsError(
      `${workflow}: schedule "${schedule.cron}" is not a valid cron expression (${reason}). ` +
        "Use 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, e.g. '*/5 * * * *'",
      { cause: err },
    );
  }
  return schedule;
}

/** The first tick strictly after `after`. */
export function nextTick(schedule: CronSchedule, after: Date): Date {
  return CronExpressionParser.parse(schedule.cron, { tz: schedule.timezone, currentDate: after }).next().toDate();
}

/** The last tick at or before `at` (undefined if the expression has none, which a valid one always has). */
export function latestTick(schedule: CronSchedule, at: Date): Date | undefined {
  try {
    // prev() is strictly before currentDate: one millisecond later makes a tick at `at` itself count.
    return CronExpressionParser.parse(schedule.cron, { tz: schedule.timezone, currentDate: new Date(at.getTime() + 1) }).prev().toDate();
  } catch {
    return undefined;
  }
}

/** The runtime's time zone database decides: an unknown name makes Intl throw a RangeError. */
function knownTimeZone(timezone: string): boolean {
  if (timezone === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}
