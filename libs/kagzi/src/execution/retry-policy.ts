import { Duration, toMilliseconds } from '../common/duration';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { ErrorKind, isErrorKind } from '../errors/error-kind';
import { PermanentError, StepError } from '../errors/step.error';

/**
 * Which failures a policy retries: `'retryable'` (default) those whose `retryable` flag is set (see {@link ErrorKind}),
 * `'any'` every one, a list of kinds, or a predicate. PermanentError, NON_DETERMINISM and CANCELLED are never retried.
 */
export type RetryOn = 'retryable' | 'any' | ErrorKind[] | ((error: StepError) => boolean);

/** Options of {@link RetryPolicy.exponential}; an unknown key is an InvalidOptionsError. */
export interface ExponentialRetryOptions {
  /** Executions in all, first try included (an integer ≥ 1); `Infinity` retries until `maxElapsed` (or forever without it). Default 5. */
  maxAttempts?: number;
  /** No retry starts later than this after the step's first attempt started (at least 1 ms). Default: no limit. */
  maxElapsed?: Duration;
  /** The wait before the first retry. Default `'1s'`. */
  initialInterval?: Duration;
  /** Each wait is the previous one times this (≥ 1). Default 2. */
  multiplier?: number;
  /** No wait is longer than this (before jitter). Default `'1h'`. */
  maxInterval?: Duration;
  /** Spread each wait by up to ± this fraction of it, between 0 and 1. Default 0.25. */
  jitter?: number;
  /** Which failures are retried. Default `'retryable'`. */
  retryOn?: RetryOn;
}

/** Options of {@link RetryPolicy.fixed}; an unknown key is an InvalidOptionsError. */
export interface FixedRetryOptions {
  /** Executions in all, first try included (an integer ≥ 1, or `Infinity`). Default 3. */
  maxAttempts?: number;
  /** No retry starts later than this after the step's first attempt started (at least 1 ms). Default: no limit. */
  maxElapsed?: Duration;
  /** The wait between attempts, without jitter. Default `'5s'`. */
  interval?: Duration;
  /** Which failures are retried. Default `'retryable'`. */
  retryOn?: RetryOn;
}

/**
 * How often a failed step is tried again and how long to wait in between.
 * `maxAttempts` counts executions: 3 means the first try and two retries; `Infinity` means no cap.
 * `maxElapsed` is a total time budget: no attempt is scheduled to start later than that after the
 * step's first attempt started. `maxAttempts: Infinity` without `maxElapsed` retries forever.
 */
export class RetryPolicy {
  private constructor(
    /** Executions in all, first try included; `Infinity` for no cap. */
    readonly maxAttempts: number,
    /** The wait before the first retry, in milliseconds. */
    readonly initialIntervalMs: number,
    /** Each wait is the previous one times this (1 for fixed). */
    readonly multiplier: number,
    /** The longest wait before jitter, in milliseconds. */
    readonly maxIntervalMs: number,
    /** The ± fraction each wait is spread by (0 for fixed). */
    readonly jitter: number,
    /** Which failures are retried. */
    readonly retryOn: RetryOn,
    /** The time budget from the first attempt's start, in milliseconds; undefined for none. */
    readonly maxElapsedMs?: number,
  ) {}

  /**
   * Waits that grow: `initialInterval`, then times `multiplier` each retry, capped at `maxInterval`, spread by `jitter`.
   * Defaults: 5 attempts, 1s, ×2, 1h, 0.25, `'retryable'`, no `maxElapsed`.
   * @throws {InvalidOptionsError} when an option is unknown or out of range (a bad duration, `multiplier` < 1,
   * `jitter` outside [0, 1], `maxAttempts` not an integer ≥ 1 or `Infinity`, `retryOn` not one of its forms).
   */
  static exponential(options: ExponentialRetryOptions = {}): RetryPolicy {
    checkKeys(options, ['maxAttempts', 'maxElapsed', 'initialInterval', 'maxInterval', 'multiplier', 'jitter', 'retryOn'], 'RetryPolicy.exponential');
    const initial = toMilliseconds(options.initialInterval ?? '1s', 'RetryPolicy.exponential initialInterval');
    const max = toMilliseconds(options.maxInterval ?? '1h', 'RetryPolicy.exponential maxInterval');
    const multiplier = options.multiplier ?? 2;
    const jitter = options.jitter ?? 0.25;
    if (!(multiplier >= 1)) throw new InvalidOptionsError(`RetryPolicy.exponential multiplier must be >= 1; got ${multiplier}`);
    if (!(jitter >= 0 && jitter <= 1)) throw new InvalidOptionsError(`RetryPolicy.exponential jitter must be between 0 and 1; got ${jitter}`);
    const elapsed = maxElapsed(options.maxElapsed, 'RetryPolicy.exponential maxElapsed');
    return new RetryPolicy(checkAttempts(options.maxAttempts ?? 5), initial, multiplier, max, jitter, checkRetryOn(options.retryOn), elapsed);
  }

  /**
   * The same wait between attempts. Defaults: 3 attempts, `'5s'`, `'retryable'`, no `maxElapsed`.
   * @throws {InvalidOptionsError} when an option is unknown or out of range (as for {@link RetryPolicy.exponential}).
   */
  static fixed(options: FixedRetryOptions = {}): RetryPolicy {
    checkKeys(options, ['maxAttempts', 'maxElapsed', 'interval', 'retryOn'], 'RetryPolicy.fixed');
    const interval = toMilliseconds(options.interval ?? '5s', 'RetryPolicy.fixed interval');
    const elapsed = maxElapsed(options.maxElapsed, 'RetryPolicy.fixed maxElapsed');
    return new RetryPolicy(checkAttempts(options.maxAttempts ?? 3), interval, 1, interval, 0, checkRetryOn(options.retryOn), elapsed);
  }

  /** One attempt, never retried. */
  static none(): RetryPolicy {
    return new RetryPolicy(1, 0, 1, 0, 0, 'retryable');
  }

  /** Whether `error`, raised by attempt `error.attempt`, earns another attempt. */
  shouldRetry(error: StepError): boolean {
    if (error.attempt >= this.maxAttempts) return false;
    if (error.kind === ErrorKind.NonDeterminism || error.kind === ErrorKind.Cancelled) return false;
    // By class, and by name for errors rehydrated from storage.
    if (error instanceof PermanentError || error.name === 'PermanentError') return false;
    const on = this.retryOn;
    if (on === 'any') return true;
    if (on === 'retryable') return error.retryable;
    if (Array.isArray(on)) return on.includes(error.kind);
    return on(error);
  }

  /** Whether an attempt starting at `at` fits the `maxElapsed` budget of a step whose first attempt started at `firstStartedAt`. */
  allowsAttemptAt(at: Date, firstStartedAt: Date): boolean {
    return this.maxElapsedMs === undefined || at.getTime() - firstStartedAt.getTime() <= this.maxElapsedMs;
  }

  /** Milliseconds to wait before attempt `attempt` (2 for the first retry); `random` is in [0, 1). */
  delayBefore(attempt: number, retryAfterMs?: number, random: number = Math.random()): number {
    if (retryAfterMs !== undefined) return retryAfterMs;
    const base = Math.min(this.initialIntervalMs * this.multiplier ** Math.max(0, attempt - 2), this.maxIntervalMs);
    const spread = base * this.jitter * (2 * random - 1);
    return Math.max(0, Math.round(base + spread));
  }
}

function checkAttempts(n: number): number {
  if (n === Number.POSITIVE_INFINITY) return n;
  if (!Number.isInteger(n) || n < 1) throw new InvalidOptionsError(`RetryPolicy maxAttempts must be an integer >= 1 or Infinity; got ${n}`);
  return n;
}

function maxElapsed(value: Duration | undefined, what: string): number | undefined {
  return value === undefined ? undefined : toMilliseconds(value, what, { min: 1 });
}

function checkRetryOn(value: RetryOn | undefined): RetryOn {
  if (value === undefined) return 'retryable';
  if (value === 'retryable' || value === 'any' || typeof value === 'function') return value;
  if (Array.isArray(value) && value.every(isErrorKind)) return value;
  throw new InvalidOptionsError(
    `RetryPolicy retryOn must be 'retryable', 'any', a list of ErrorKind values or a function (error) => boolean; got ${JSON.stringify(value)}`,
  );
}

/** An option the policy does not know (`delay` for `interval`) would be ignored silently: refuse it. */
function checkKeys(options: object, known: readonly string[], api: string): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionsError(`${api} expects an options object; got ${options === null ? 'null' : typeof options}`);
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new InvalidOptionsError(`${api}: unknown option(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; known: ${known.join(', ')}`);
}
