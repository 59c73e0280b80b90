/**
 * setLongTimeout: delays past Node's timer limit (2^31 - 1 ms, about 24.8 days), which a plain
 * setTimeout fires after 1 ms. Fake timers, so 30 days pass in microseconds.
 */
import { MAX_TIMER_MS, setLongTimeout } from './long-timer';

const DAY = 86_400_000;

describe('setLongTimeout', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  it('a 30-day timer does not fire early, and fires at 30 days', () => {
    const fired = jest.fn();
    setLongTimeout(fired, 30 * DAY);
    jest.advanceTimersByTime(1);
    expect(fired).not.toHaveBeenCalled(); // a plain setTimeout(fn, 30 days) would have fired by now
    jest.advanceTimersByTime(MAX_TIMER_MS); // past the first link of the chain
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(30 * DAY - MAX_TIMER_MS - 2);
    expect(fired).not.toHaveBeenCalled(); // 1 ms before 30 days
    jest.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(30 * DAY);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('a short timer fires at its delay', () => {
    const fired = jest.fn();
    setLongTimeout(fired, 500);
    jest.advanceTimersByTime(499);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('a negative delay fires on the next tick, like setTimeout(fn, 0)', () => {
    const fired = jest.fn();
    setLongTimeout(fired, -5);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(0);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('clear() stops a long timer in any link of its chain', () => {
    const fired = jest.fn();
    const timer = setLongTimeout(fired, 30 * DAY);
    jest.advanceTimersByTime(MAX_TIMER_MS + DAY); // in the second link
    timer.clear();
    jest.advanceTimersByTime(60 * DAY);
    expect(fired).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('unref() holds for every re-armed link, and returns the handle', () => {
    const unrefSpy = jest.fn();
    const realSetTimeout = global.setTimeout;
    const spy = jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const t = realSetTimeout(fn, ms);
      const unref = t.unref.bind(t);
      t.unref = () => {
        unrefSpy();
        return unref();
      };
      return t;
    }) as typeof setTimeout);
    try {
      const fired = jest.fn();
      const timer = setLongTimeout(fired, 30 * DAY);
      expect(timer.unref()).toBe(timer);
      expect(unrefSpy).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(MAX_TIMER_MS); // re-arms the last link
      expect(unrefSpy).toHaveBeenCalledTimes(2);
      jest.advanceTimersByTime(30 * DAY);
      expect(fired).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('follows the wall clock: a clock jump forward shortens the rest of the wait', () => {
    const fired = jest.fn();
    setLongTimeout(fired, 30 * DAY);
    jest.setSystemTime(Date.now() + 2 * DAY); // the clock moves, timers do not
    jest.advanceTimersByTime(MAX_TIMER_MS); // the re-armed link measures what is left from the clock
    const left = 30 * DAY - 2 * DAY - MAX_TIMER_MS;
    jest.advanceTimersByTime(left - 1);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });
});
