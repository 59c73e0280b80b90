/**
 * Durations (`Duration`): the forms people write, the refusals with their messages, bounds, the 100-year
 * ceiling and how a bound is shown back. Pure: no database.
 */
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { checkDuration, durationOption, formatDuration, MAX_DURATION_MS, toMilliseconds } from './duration';

const DAY = 86_400_000;

describe('checkDuration', () => {
  it.each([
    [250, 250],
    [0, 0],
    ['250ms', 250],
    ['5s', 5_000],
    ['10m', 600_000],
    ['1.5h', 5_400_000],
    ['7d', 7 * DAY],
    ['30 days', 30 * DAY],
    ['1 minute', 60_000],
    ['2 hrs', 7_200_000],
    ['  5s  ', 5_000],
    ['5S', 5_000],
    ['100y', MAX_DURATION_MS],
  ] as const)('reads %j as %d ms', (value, expected) => {
    expect(checkDuration(value)).toEqual({ ms: expected });
  });

  it.each([['soon'], [''], ['   '], ['5 parsecs'], [null], [undefined], [true], [{}]])('refuses %j: not a duration', (value) => {
    const checked = checkDuration(value);
    expect(checked).toEqual({ problem: expect.stringMatching(/^must be a number of milliseconds or a string like '500ms'/) });
  });

  it('names what it got, shortening long strings', () => {
    expect(checkDuration(null)).toEqual({ problem: expect.stringMatching(/; got null$/) });
    expect(checkDuration({})).toEqual({ problem: expect.stringMatching(/; got object$/) });
    expect(checkDuration('x'.repeat(100))).toEqual({ problem: expect.stringMatching(new RegExp(`; got "${'x'.repeat(40)}…"$`)) });
  });

  it.each([[-1], ['-5s'], [Number.NaN], [Number.POSITIVE_INFINITY]])('refuses %j: not finite and non-negative', (value) => {
    expect(checkDuration(value)).toEqual({ problem: expect.stringMatching(/^must be a finite, non-negative duration; got /) });
  });

  it('refuses values outside its bounds, naming the bound in the unit people write', () => {
    expect(checkDuration('50ms', { min: 100 })).toEqual({ problem: 'must be at least 100 ms; got "50ms"' });
    expect(checkDuration(2 * 3_600_000, { max: 3_600_000 })).toEqual({ problem: 'must be at most 1h (3600000 ms); got 7200000' });
    expect(checkDuration('100ms', { min: 100, max: 100 })).toEqual({ ms: 100 }); // bounds are inclusive
  });

  it('never allows more than 100 years, whatever the bound says', () => {
    expect(checkDuration(MAX_DURATION_MS + 1)).toEqual({ problem: expect.stringMatching(/^must be at most 100 years \(\d+ ms\)/) });
    expect(checkDuration('101y', { max: Number.MAX_SAFE_INTEGER })).toEqual({ problem: expect.stringMatching(/^must be at most 100 years/) });
  });
});

describe('toMilliseconds', () => {
  it('returns the milliseconds of a valid duration', () => {
    expect(toMilliseconds('1.5s', 'worker.pollInterval')).toBe(1_500);
  });

  it('throws InvalidOptionsError whose message starts with the option’s name', () => {
    expect(() => toMilliseconds('soon' as never, 'worker.pollInterval')).toThrow(InvalidOptionsError);
    expect(() => toMilliseconds('5ms', 'worker.pollInterval', { min: 10 })).toThrow(/^worker\.pollInterval must be at least 10 ms; got "5ms"$/);
  });
});

describe('durationOption (zod)', () => {
  it('accepts a duration within its bounds and reports a problem otherwise', () => {
    const option = durationOption({ min: 1_000 });
    expect(option.safeParse('2s').success).toBe(true);
    const refused = option.safeParse('500ms');
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0].message).toBe('must be at least 1s (1000 ms); got "500ms"');
  });
});

describe('formatDuration', () => {
  it.each([
    [1_000, '1s (1000 ms)'],
    [60_000, '1m (60000 ms)'],
    [3_600_000, '1h (3600000 ms)'],
    [DAY, '1d (86400000 ms)'],
    [1_500, '1500 ms'], // ms() would round it to "2s"
    [250, '250 ms'],
    [MAX_DURATION_MS, `100 years (${MAX_DURATION_MS} ms)`],
  ])('%d ms reads %j', (milliseconds, text) => {
    expect(formatDuration(milliseconds)).toBe(text);
  });
});
