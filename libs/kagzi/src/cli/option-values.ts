import { checkDuration } from '../common/duration';
import { RUN_STATUSES, RunStatus } from '../interfaces/run.interface';
import { CliError } from './cli-errors';

/**
 * Option values, checked before the command touches the database. A value kagzi rejects is an error
 * (exit 1) with the option's name in the message; commander itself reports what is not a value at all.
 */

export function parseJson(option: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err: unknown) {
    throw new CliError(`${option} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A whole number from `min` to `max`, e.g. a version or a page size. */
export function parseInteger(option: string, text: string, range: { min: number; max: number }): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new CliError(`${option} must be a whole number from ${range.min} to ${range.max}; got "${text}"`);
  }
  return value;
}

/** One status or a comma-separated list, in any case: `failed`, `FAILED,CANCELLED`. */
export function parseStatuses(option: string, text: string, allowed: readonly RunStatus[] = RUN_STATUSES): RunStatus[] {
  const statuses = text.split(',').map((s) => s.trim().toUpperCase());
  for (const status of statuses) {
    if (!allowed.includes(status as RunStatus)) throw new CliError(`${option} must be one of ${allowed.join(', ')}; got "${text}"`);
  }
  return [...new Set(statuses)] as RunStatus[];
}

/** A duration as the `ms` package reads it (`90s`, `15m`, `2h`, `3d`), in milliseconds. */
export function parseDuration(option: string, text: string): number {
  const checked = checkDuration(text, { min: 1 });
  if ('problem' in checked) throw new CliError(`${option} must be a duration like 30m, 2h or 7d; got "${text}"`);
  return checked.ms;
}
