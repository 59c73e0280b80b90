/**
 * RetryPolicy (SPEC "Errors and retries"): defaults, back-off arithmetic, jitter bounds, the cap,
 * retryAfter, and the retry decision for every `retryOn` form. Pure: no database, no clock.
 */
import { ErrorKind } from '../errors/error-kind';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { PermanentError, StepError, TransientError } from '../errors/step.error';
import { RetryPolicy, RetryOn } from './retry-policy';

/** An error as the executor hands it to the policy: raised by attempt `attempt`. */
function failed<E extends StepError>(error: E, attempt = 1): E {
  error.attempt = attempt;
  error.stepName = 'Spec.step';
  return error;
}

const kindError = (kind: ErrorKind, attempt = 1): StepError => failed(new StepError(`a ${kind} failure`, { kind }), attempt);

/** Just below 1: Math.random() never returns 1 itself. */
const ALMOST_ONE = 1 - Number.EPSILON;

describe('RetryPolicy defaults', () => {
  it('exponential: 5 attempts, 1 s initial, ×2, capped at 1 h, jitter 0.25, retryOn retryable', () => {
    const p = RetryPolicy.exponential();
    expect(p.maxAttempts).toBe(5);
    expect(p.initialIntervalMs).toBe(1_000);
    expect(p.multiplier).toBe(2);
    expect(p.maxIntervalMs).toBe(3_600_000);
    expect(p.jitter).toBe(0.25);
    expect(p.retryOn).toBe('retryable');
  });

  it('fixed: 3 attempts, 5 s apart, no jitter, retryOn retryable', () => {
    const p = RetryPolicy.fixed();
    expect(p.maxAttempts).toBe(3);
    expect(p.initialIntervalMs).toBe(5_000);
    expect(p.jitter).toBe(0);
    expect(p.retryOn).toBe('retryable');
    for (const attempt of [2, 3, 7]) expect(p.delayBefore(attempt, undefined, 0.5)).toBe(5_000);
  });

  it('none: a single attempt, never retried', () => {
    const p = RetryPolicy.none();
    expect(p.maxAttempts).toBe(1);
    expect(p.shouldRetry(failed(new TransientError('flaky'), 1))).toBe(false);
    expect(p.shouldRetry(kindError(ErrorKind.NetworkError, 1))).toBe(false);
  });

  it('options given as numbers of milliseconds or duration strings mean the same', () => {
    const a = RetryPolicy.exponential({ initialInterval: 250, maxInterval: 60_000 });
    const b = RetryPolicy.exponential({ initialInterval: '250ms', maxInterval: '1m' });
    expect([a.initialIntervalMs, a.maxIntervalMs]).toEqual([250, 60_000]);
    expect([b.initialIntervalMs, b.maxIntervalMs]).toEqual([250, 60_000]);
    expect(RetryPolicy.fixed({ interval: '2s' }).initialIntervalMs).toBe(2_000);
  });
});

describe('RetryPolicy.delayBefore', () => {
  describe('exponential', () => {
    const p = RetryPolicy.exponential();

    it('doubles from the initial interval: attempt n waits initial × 2^(n-2) (random 0.5 = no jitter)', () => {
      expect([2, 3, 4, 5, 6].map((n) => p.delayBefore(n, undefined, 0.5))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    });

    it('uses the configured initial interval and multiplier', () => {
      const q = RetryPolicy.exponential({ initialInterval: '100ms', multiplier: 3, jitter: 0 });
      expect([2, 3, 4, 5].map((n) => q.delayBefore(n, undefined, 0.5))).toEqual([100, 300, 900, 2_700]);
      const flat = RetryPolicy.exponential({ initialInterval: '200ms', multiplier: 1 });
      expect([2, 3, 9].map((n) => flat.delayBefore(n, undefined, 0.5))).toEqual([200, 200, 200]);
    });

    it('jitter spreads the delay by at most ±25 %: random 0 gives -25 %, random → 1 gives +25 %', () => {
      expect(p.delayBefore(2, undefined, 0)).toBe(750);
      expect(p.delayBefore(3, undefined, 0)).toBe(1_500);
      const high = p.delayBefore(2, undefined, ALMOST_ONE);
      expect(high).toBeLessThanOrEqual(1_250);
      expect(high).toBeGreaterThanOrEqual(1_249);
      expect(p.delayBefore(3, undefined, 0.75)).toBe(2_250); // halfway up: +12.5 %
    });

    it('stays within the jitter bounds for any random number', () => {
      for (let i = 0; i < 500; i++) {
        const attempt = 2 + (i % 6);
        const base = 1_000 * 2 ** (attempt - 2);
        const d = p.delayBefore(attempt); // Math.random()
        expect(d).toBeGreaterThanOrEqual(base * 0.75);
        expect(d).toBeLessThanOrEqual(base * 1.25);
      }
    });

    it('a custom jitter changes the bounds; jitter 0 is exact', () => {
      const q = RetryPolicy.exponential({ initialInterval: '1s', jitter: 0.5 });
      expect(q.delayBefore(2, undefined, 0)).toBe(500);
      expect(q.delayBefore(2, undefined, ALMOST_ONE)).toBeLessThanOrEqual(1_500);
      expect(q.delayBefore(2, undefined, ALMOST_ONE)).toBeGreaterThanOrEqual(1_499);
      const exact = RetryPolicy.exponential({ initialInterval: '1s', jitter: 0 });
      expect([0, 0.3, ALMOST_ONE].map((r) => exact.delayBefore(3, undefined, r))).toEqual([2_000, 2_000, 2_000]);
    });

    it('is capped at maxInterval (the cap applies before jitter)', () => {
      const q = RetryPolicy.exponential({ initialInterval: '1s', maxInterval: '10s' });
      expect([2, 3, 4, 5, 6, 7, 20].map((n) => q.delayBefore(n, undefined, 0.5))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
      expect(q.delayBefore(20, undefined, 0)).toBe(7_500);
      expect(q.delayBefore(20, undefined, ALMOST_ONE)).toBeLessThanOrEqual(12_500);
    });

    it('the default cap is one hour, even for very late attempts', () => {
      expect(p.delayBefore(14, undefined, 0.5)).toBe(3_600_000); // 2^12 s = 4096 s > 1 h
      expect(p.delayBefore(60, undefined, 0.5)).toBe(3_600_000);
      expect(p.delayBefore(5_000, undefined, 0.5)).toBe(3_600_000); // 2^4998 overflows to Infinity; still capped
    });

    it('never returns a negative or fractional delay', () => {
      const q = RetryPolicy.exponential({ initialInterval: 3, jitter: 1 });
      expect(q.delayBefore(2, undefined, 0)).toBe(0);
      for (const r of [0.1, 0.33, 0.9]) expect(Number.isInteger(q.delayBefore(3, undefined, r))).toBe(true);
    });
  });

  describe('fixed', () => {
    it('waits the same interval before every attempt, without jitter', () => {
      const p = RetryPolicy.fixed({ interval: '250ms', maxAttempts: 10 });
      for (const attempt of [2, 3, 4, 10]) {
        for (const r of [0, 0.5, ALMOST_ONE]) expect(p.delayBefore(attempt, undefined, r)).toBe(250);
      }
    });
  });

  describe('retryAfter from the error', () => {
    it('overrides the computed delay exactly, without jitter or cap', () => {
      const exp = RetryPolicy.exponential({ initialInterval: '1s', maxInterval: '2s' });
      expect(exp.delayBefore(2, 300, 0)).toBe(300);
      expect(exp.delayBefore(4, 300, ALMOST_ONE)).toBe(300);
      expect(exp.delayBefore(2, 30_000, 0.5)).toBe(30_000); // the server asked; longer than the cap is honoured
      expect(RetryPolicy.fixed({ interval: '10ms' }).delayBefore(2, 750, 0.5)).toBe(750);
    });

    it('a retryAfter of 0 means retry at once', () => {
      expect(RetryPolicy.fixed({ interval: '5s' }).delayBefore(2, 0, 0.5)).toBe(0);
    });
  });
});

describe('RetryPolicy.shouldRetry', () => {
  describe('maxAttempts counts executions', () => {
    it('3 attempts: attempts 1 and 2 are retried, attempt 3 is the last', () => {
      const p = RetryPolicy.fixed({ maxAttempts: 3 });
      expect(p.shouldRetry(failed(new TransientError('x'), 1))).toBe(true);
      expect(p.shouldRetry(failed(new TransientError('x'), 2))).toBe(true);
      expect(p.shouldRetry(failed(new TransientError('x'), 3))).toBe(false);
      expect(p.shouldRetry(failed(new TransientError('x'), 4))).toBe(false);
    });

    it('maxAttempts 1 never retries; exponential default retries attempts 1..4', () => {
      expect(RetryPolicy.fixed({ maxAttempts: 1 }).shouldRetry(failed(new TransientError('x'), 1))).toBe(false);
      const p = RetryPolicy.exponential();
      expect([1, 2, 3, 4, 5].map((n) => p.shouldRetry(failed(new TransientError('x'), n)))).toEqual([true, true, true, true, false]);
    });

    it("the limit holds for every retryOn form, 'any' and predicates included", () => {
      const forms: RetryOn[] = ['retryable', 'any', [ErrorKind.NetworkError], () => true];
      for (const retryOn of forms) {
        const p = RetryPolicy.exponential({ maxAttempts: 2, retryOn });
        expect(p.shouldRetry(kindError(ErrorKind.NetworkError, 1))).toBe(true);
        expect(p.shouldRetry(kindError(ErrorKind.NetworkError, 2))).toBe(false);
      }
    });
  });

  describe("retryOn 'retryable' (the default)", () => {
    const p = RetryPolicy.exponential({ maxAttempts: 10 });

    it.each([
      ErrorKind.NetworkError,
      ErrorKind.ServiceUnavailable,
      ErrorKind.RateLimited,
      ErrorKind.Timeout,
      ErrorKind.DatabaseConnectionFailed,
      ErrorKind.Unknown,
    ])('retries %s', (kind) => {
      expect(p.shouldRetry(kindError(kind))).toBe(true);
    });

    it.each([
      ErrorKind.ValidationFailed,
      ErrorKind.NotFound,
      ErrorKind.PermissionDenied,
      ErrorKind.InvalidInput,
      ErrorKind.BusinessLogicError,
      ErrorKind.Cancelled,
      ErrorKind.NonDeterminism,
    ])('does not retry %s', (kind) => {
      expect(p.shouldRetry(kindError(kind))).toBe(false);
    });

    it('a TransientError is retried whatever its kind; a PermanentError never', () => {
      expect(p.shouldRetry(failed(new TransientError('x', { kind: ErrorKind.ValidationFailed })))).toBe(true);
      expect(p.shouldRetry(failed(new PermanentError('x')))).toBe(false);
      expect(p.shouldRetry(failed(new PermanentError('x', { kind: ErrorKind.NetworkError })))).toBe(false);
    });
  });

  describe("retryOn 'any'", () => {
    const p = RetryPolicy.fixed({ maxAttempts: 5, retryOn: 'any' });

    it('retries permanent kinds thrown as plain StepErrors', () => {
      expect(p.shouldRetry(kindError(ErrorKind.ValidationFailed))).toBe(true);
      expect(p.shouldRetry(kindError(ErrorKind.BusinessLogicError))).toBe(true);
      expect(p.shouldRetry(kindError(ErrorKind.NotFound))).toBe(true);
    });

    it('still never retries a PermanentError, NON_DETERMINISM or CANCELLED', () => {
      expect(p.shouldRetry(failed(new PermanentError('no')))).toBe(false);
      expect(p.shouldRetry(kindError(ErrorKind.NonDeterminism))).toBe(false);
      expect(p.shouldRetry(kindError(ErrorKind.Cancelled))).toBe(false);
      expect(p.shouldRetry(failed(new TransientError('x', { kind: ErrorKind.Cancelled })))).toBe(false);
      expect(p.shouldRetry(failed(new TransientError('x', { kind: ErrorKind.NonDeterminism })))).toBe(false);
    });

    it('never retries a subclass of PermanentError either ("never retried, whatever the policy says")', () => {
      class CardDeclinedError extends PermanentError {}
      const err = failed(new CardDeclinedError('card declined'));
      expect(err).toBeInstanceOf(PermanentError);
      expect(p.shouldRetry(err)).toBe(false);
      expect(RetryPolicy.fixed({ retryOn: [ErrorKind.BusinessLogicError] }).shouldRetry(failed(new CardDeclinedError('card declined')))).toBe(false);
      expect(RetryPolicy.fixed({ retryOn: () => true }).shouldRetry(failed(new CardDeclinedError('card declined')))).toBe(false);
    });
  });

  describe('retryOn as a list of kinds', () => {
    const p = RetryPolicy.fixed({ maxAttempts: 5, retryOn: [ErrorKind.RateLimited, ErrorKind.ValidationFailed] });

    it('retries exactly the listed kinds, retryable or not', () => {
      expect(p.shouldRetry(kindError(ErrorKind.RateLimited))).toBe(true);
      expect(p.shouldRetry(kindError(ErrorKind.ValidationFailed))).toBe(true);
      expect(p.shouldRetry(kindError(ErrorKind.NetworkError))).toBe(false);
      expect(p.shouldRetry(kindError(ErrorKind.Unknown))).toBe(false);
      expect(p.shouldRetry(failed(new TransientError('x')))).toBe(false); // UNKNOWN, not listed
    });

    it('a PermanentError of a listed kind is still not retried', () => {
      expect(p.shouldRetry(failed(new PermanentError('x', { kind: ErrorKind.RateLimited })))).toBe(false);
    });

    it('NON_DETERMINISM and CANCELLED are never retried even when listed', () => {
      const q = RetryPolicy.fixed({ retryOn: [ErrorKind.NonDeterminism, ErrorKind.Cancelled] });
      expect(q.shouldRetry(kindError(ErrorKind.NonDeterminism))).toBe(false);
      expect(q.shouldRetry(kindError(ErrorKind.Cancelled))).toBe(false);
    });

    it('an empty list retries nothing', () => {
      expect(RetryPolicy.fixed({ retryOn: [] }).shouldRetry(kindError(ErrorKind.NetworkError))).toBe(false);
    });
  });

  describe('retryOn as a predicate', () => {
    it('decides from the StepError it is given (kind, code, context, attempt)', () => {
      const seen: StepError[] = [];
      const p = RetryPolicy.exponential({
        maxAttempts: 4,
        retryOn: (e) => {
          seen.push(e);
          return e.code === 'GATEWAY_BUSY' || (e.context as { shard?: number } | undefined)?.shard === 2;
        },
      });
      const busy = failed(new StepError('busy', { kind: ErrorKind.BusinessLogicError, code: 'GATEWAY_BUSY' }), 2);
      expect(p.shouldRetry(busy)).toBe(true);
      expect(seen[0]).toBe(busy);
      expect(seen[0].attempt).toBe(2);
      expect(p.shouldRetry(failed(new StepError('other', { kind: ErrorKind.NetworkError, code: 'OTHER' })))).toBe(false);
      expect(p.shouldRetry(failed(new StepError('sharded', { context: { shard: 2 } })))).toBe(true);
    });

    it('is not consulted for PermanentError, NON_DETERMINISM, CANCELLED or past maxAttempts', () => {
      const predicate = jest.fn(() => true);
      const p = RetryPolicy.fixed({ maxAttempts: 2, retryOn: predicate });
      expect(p.shouldRetry(failed(new PermanentError('x')))).toBe(false);
      expect(p.shouldRetry(kindError(ErrorKind.NonDeterminism))).toBe(false);
      expect(p.shouldRetry(kindError(ErrorKind.Cancelled))).toBe(false);
      expect(p.shouldRetry(failed(new TransientError('x'), 2))).toBe(false);
      expect(predicate).not.toHaveBeenCalled();
    });
  });
});

describe('retry budget: maxAttempts Infinity and maxElapsed', () => {
  it('accepts maxAttempts Infinity, with or without maxElapsed, and retries past any count', () => {
    for (const p of [RetryPolicy.exponential({ maxAttempts: Infinity }), RetryPolicy.fixed({ maxAttempts: Infinity, maxElapsed: '1h' })]) {
      expect(p.maxAttempts).toBe(Infinity);
      expect(p.shouldRetry(failed(new TransientError('x'), 1_000_000))).toBe(true);
    }
  });

  it('allows an attempt up to maxElapsed after the first attempt started, not later', () => {
    const p = RetryPolicy.exponential({ maxAttempts: Infinity, maxElapsed: '1h' });
    expect(p.maxElapsedMs).toBe(3_600_000);
    const first = new Date('2030-01-01T00:00:00Z');
    expect(p.allowsAttemptAt(new Date(first.getTime() + 3_600_000), first)).toBe(true);
    expect(p.allowsAttemptAt(new Date(first.getTime() + 3_600_001), first)).toBe(false);
  });

  it('without maxElapsed, any time is within budget', () => {
    const p = RetryPolicy.fixed();
    expect(p.maxElapsedMs).toBeUndefined();
    expect(p.allowsAttemptAt(new Date(8.64e15), new Date(0))).toBe(true);
  });
});

describe('invalid RetryPolicy options throw InvalidOptionsError', () => {
  it.each([
    ['maxAttempts 0', () => RetryPolicy.exponential({ maxAttempts: 0 })],
    ['maxAttempts -1', () => RetryPolicy.fixed({ maxAttempts: -1 })],
    ['maxAttempts 1.5', () => RetryPolicy.fixed({ maxAttempts: 1.5 })],
    ['maxAttempts NaN', () => RetryPolicy.exponential({ maxAttempts: Number.NaN })],
    ['maxAttempts -Infinity', () => RetryPolicy.exponential({ maxAttempts: Number.NEGATIVE_INFINITY })],
    ['maxElapsed "soon"', () => RetryPolicy.exponential({ maxElapsed: 'soon' as never })],
    ['maxElapsed 0', () => RetryPolicy.fixed({ maxElapsed: 0 })],
    ['maxElapsed -1', () => RetryPolicy.exponential({ maxElapsed: -1 })],
    ['multiplier 0.5', () => RetryPolicy.exponential({ multiplier: 0.5 })],
    ['multiplier NaN', () => RetryPolicy.exponential({ multiplier: Number.NaN })],
    ['jitter -0.1', () => RetryPolicy.exponential({ jitter: -0.1 })],
    ['jitter 1.5', () => RetryPolicy.exponential({ jitter: 1.5 })],
    ['initialInterval -5', () => RetryPolicy.exponential({ initialInterval: -5 })],
    ['initialInterval "soon"', () => RetryPolicy.exponential({ initialInterval: 'soon' as never })],
    ['maxInterval "1 fortnight"', () => RetryPolicy.exponential({ maxInterval: '1 fortnight' as never })],
    ['maxInterval "" (empty)', () => RetryPolicy.exponential({ maxInterval: '' as never })],
    ['interval "5x"', () => RetryPolicy.fixed({ interval: '5x' as never })],
    ['interval -1', () => RetryPolicy.fixed({ interval: -1 })],
  ])('%s', (_what, make) => {
    expect(make).toThrow(InvalidOptionsError);
  });

  it('names the offending option in the message', () => {
    expect(() => RetryPolicy.exponential({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => RetryPolicy.exponential({ jitter: 2 })).toThrow(/jitter/);
    expect(() => RetryPolicy.exponential({ multiplier: 0 })).toThrow(/multiplier/);
    expect(() => RetryPolicy.fixed({ interval: 'x' as never })).toThrow(/interval/);
  });

  // SPEC §2.5: malformed options get a typed error at the call that caused them, not a TypeError
  // inside the worker when the first step fails.
  it.each([
    ["retryOn 'always'", () => RetryPolicy.fixed({ retryOn: 'always' as never })],
    ['retryOn 42', () => RetryPolicy.exponential({ retryOn: 42 as never })],
    ["retryOn ['NOT_A_KIND']", () => RetryPolicy.exponential({ retryOn: ['NOT_A_KIND'] as never })],
  ])('%s', (_what, make) => {
    expect(make).toThrow(InvalidOptionsError);
  });

  it('refuses an option it does not know instead of ignoring it', () => {
    expect(() => RetryPolicy.fixed({ delay: '10ms' } as unknown as Parameters<typeof RetryPolicy.fixed>[0])).toThrow(/RetryPolicy.fixed: unknown option\(s\) "delay"/);
    expect(() => RetryPolicy.exponential({ maxRetries: 3 } as unknown as Parameters<typeof RetryPolicy.exponential>[0])).toThrow(InvalidOptionsError);
  });
});
