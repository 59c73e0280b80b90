import ms from 'ms';
import { z } from 'zod';
import { InvalidOptionsError } from '../errors/invalid-options.error';

/** The unit words the `ms` package understands (any case at run time; lower case in the type). */
type DurationUnit =
  | 'ms' | 'msec' | 'msecs' | 'millisecond' | 'milliseconds'
  | 's' | 'sec' | 'secs' | 'second' | 'seconds'
  | 'm' | 'min' | 'mins' | 'minute' | 'minutes'
  | 'h' | 'hr' | 'hrs' | 'hour' | 'hours'
  | 'd' | 'day' | 'days'
  | 'w' | 'week' | 'weeks'
  | 'y' | 'yr' | 'yrs' | 'year' | 'years';

/**
 * A duration in milliseconds, or a number with a unit as the `ms` package reads it:
 * `'250ms'`, `'5s'`, `'10m'`, `'1.5h'`, `'7d'`, `'30 days'`, `'1 minute'`, `'2 hrs'`.
 */
export type Duration = number | `${number}${DurationUnit}` | `${number} ${DurationUnit}`;

/** Inclusive bounds in milliseconds. */
export interface DurationBounds {
  min?: number;
  max?: number;
}

/**
 * No duration may exceed 100 years: beyond that PostgreSQL intervals and timestamps overflow
 * ("interval out of range"), and no workflow means it.
 */
export const MAX_DURATION_MS = ms('100y');

/** The value in milliseconds, or why it is not a duration within `bounds` (a phrase to follow the option's name). */
export function checkDuration(value: unknown, bounds: DurationBounds = {}): { ms: number } | { problem: string } {
  const parsed = parse(value);
  if (parsed === undefined || (typeof value === 'string' && Number.isNaN(parsed))) {
    return {
      problem: `must be a number of milliseconds or a string like '500ms', '5s', '10m', '1.5h', '30 days'; got ${describe(value)}`,
    };
  }
  if (!Number.isFinite(parsed) || parsed < 0) return { problem: `must be a finite, non-negative duration; got ${describe(value)}` };
  const min = bounds.min ?? 0;
  const max = Math.min(bounds.max ?? MAX_DURATION_MS, MAX_DURATION_MS);
  if (parsed < min) return { problem: `must be at least ${formatDuration(min)}; got ${describe(value)}` };
  if (parsed > max) return { problem: `must be at most ${formatDuration(max)}; got ${describe(value)}` };
  return { ms: parsed };
}

/** Parses a {@link Duration} within `bounds`; `what` names the option in the InvalidOptionsError. */
export function toMilliseconds(value: Duration, what: string, bounds?: DurationBounds): number {
  const checked = checkDuration(value, bounds);
  if ('problem' in checked) throw new InvalidOptionsError(`${what} ${checked.problem}`);
  return checked.ms;
}

/** A zod schema for a Duration option within `bounds`; the issue's path names the option. */
export function durationOption(bounds: DurationBounds = {}) {
  return z.custom<Duration>().superRefine((value, ctx) => {
    const checked = checkDuration(value, bounds);
    if ('problem' in checked) ctx.addIssue({ code: 'custom', message: checked.problem });
  });
}

/** `1000` → `'1s (1000 ms)'`: the unit people write, and the exact value (ms() rounds, so only when exact). */
export function formatDuration(milliseconds: number): string {
  if (milliseconds === MAX_DURATION_MS) return `100 years (${milliseconds} ms)`;
  const short = ms(milliseconds);
  if (short === `${milliseconds}ms` || parse(short) !== milliseconds) return `${milliseconds} ms`;
  return `${short} (${milliseconds} ms)`;
}

function parse(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  // ms() throws on an empty string instead of returning undefined like it does for other garbage.
  if (text.length === 0) return undefined;
  // ms reads any string at run time (undefined when it is not a duration); its types only admit valid ones.
  return ms(text as Exclude<Duration, number>);
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return value === null ? 'null' : typeof value;
}
