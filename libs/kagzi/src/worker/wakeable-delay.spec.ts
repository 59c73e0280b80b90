/**
 * WakeableDelay: the claim loop's sleep, ended at once by wake(); a wake while nobody waits is
 * remembered. Pure: fake timers, no database.
 */
import { WakeableDelay } from './wakeable-delay';

/** Whether `promise` has settled once pending callbacks and microtasks have run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await Promise.resolve();
  await Promise.resolve();
  return settled;
}

describe('WakeableDelay', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('without a wake, resolves after its delay and not before', async () => {
    const delay = new WakeableDelay();
    const waiting = delay.wait(1_000);
    jest.advanceTimersByTime(999);
    expect(await isSettled(waiting)).toBe(false);
    jest.advanceTimersByTime(1);
    expect(await isSettled(waiting)).toBe(true);
    expect(delay.pending).toBe(false);
  });

  it('wake() ends a wait at once and clears its timer', async () => {
    const delay = new WakeableDelay();
    const waiting = delay.wait(60_000);
    expect(jest.getTimerCount()).toBe(1);
    delay.wake();
    expect(await isSettled(waiting)).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('remembers a wake that came while nobody waited: the next wait returns at once', async () => {
    const delay = new WakeableDelay();
    delay.wake();
    expect(delay.pending).toBe(true);
    expect(await isSettled(delay.wait(60_000))).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
    // still pending until the loop clears it: it has not yet acted on the wake
    expect(delay.pending).toBe(true);
    expect(await isSettled(delay.wait(60_000))).toBe(true);
  });

  it('clearPending() forgets the wake: the next wait sleeps its full delay', async () => {
    const delay = new WakeableDelay();
    delay.wake();
    delay.clearPending();
    expect(delay.pending).toBe(false);
    const waiting = delay.wait(500);
    jest.advanceTimersByTime(499);
    expect(await isSettled(waiting)).toBe(false);
    jest.advanceTimersByTime(1);
    expect(await isSettled(waiting)).toBe(true);
  });

  it('a wait that timed out is not woken again by a late wake, and the wake is kept for the next wait', async () => {
    const delay = new WakeableDelay();
    const first = delay.wait(100);
    jest.advanceTimersByTime(100);
    expect(await isSettled(first)).toBe(true);
    delay.wake(); // nobody waits now
    expect(delay.pending).toBe(true);
    expect(await isSettled(delay.wait(60_000))).toBe(true);
  });

  it('when two waits overlap, an earlier one timing out does not stop wake() ending the later one', async () => {
    const delay = new WakeableDelay();
    const earlier = delay.wait(100);
    const later = delay.wait(60_000);
    jest.advanceTimersByTime(100);
    expect(await isSettled(earlier)).toBe(true);
    expect(await isSettled(later)).toBe(false);
    delay.wake();
    expect(await isSettled(later)).toBe(true);
  });

  it('wake() with no wait and no timer pending schedules nothing', () => {
    const delay = new WakeableDelay();
    delay.wake();
    delay.wake();
    expect(jest.getTimerCount()).toBe(0);
  });
});
