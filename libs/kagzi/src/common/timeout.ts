import { setLongTimeout } from './long-timer';

/**
 * `work`'s outcome, or a rejection with `onTimeout()` if `ms` pass first (work goes on either way).
 * Any duration works (a long timer), and the timer is cleared as soon as work settles.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setLongTimeout(() => reject(onTimeout()), ms);
    work.then(resolve, reject).finally(() => timer.clear());
  });
}

/** Whether `work` settled (fulfilled or rejected) within `ms`. */
export function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = work.then(() => true, () => true);
  return withTimeout(settled, ms, () => new Error('timed out')).catch(() => false);
}
