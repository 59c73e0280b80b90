import { InvalidOptionsError } from '../errors/invalid-options.error';

/** A duration in milliseconds, or a number with a unit: `'250ms'`, `'5s'`, `'10m'`, `'1h'`, `'7d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses a {@link Duration}; `what` names the option in the error message. */
export function toMilliseconds(value: Duration, what: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value.trim());
    if (match) return Number(match[1]) * UNIT_MS[match[2]];
  }
  throw new InvalidOptionsError(
    `${what} must be a non-negative number of milliseconds or a string like '500ms', '5s', '10m', '1h', '2d'; got ${JSON.stringify(value)}`,
  );
}
