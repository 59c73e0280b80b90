/** Node timers overflow above 2^31 - 1 ms (about 24.8 days) and then fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LongTimer {
  clear(): void;
  /** Lets the process exit while only this timer is pending. */
  unref(): LongTimer;
}

/**
 * `setTimeout` for any delay: a delay above {@link MAX_TIMER_MS} is a chain of shorter timers,
 * each re-armed against the wall clock, so a 30-day sleep wakes after 30 days, not after 1 ms.
 */
export function setLongTimeout(callback: () => void, delayMs: number): LongTimer {
  const dueAt = Date.now() + Math.max(0, delayMs);
  let timer: NodeJS.Timeout;
  let unrefed = false;
  let cleared = false;
  const arm = (): void => {
    const left = dueAt - Date.now();
    if (left > MAX_TIMER_MS) {
      timer = setTimeout(arm, MAX_TIMER_MS);
    } else {
      timer = setTimeout(() => {
        if (!cleared) callback();
      }, Math.max(0, left));
    }
    if (unrefed) timer.unref();
  };
  arm();
  const handle: LongTimer = {
    clear: () => {
      cleared = true;
      clearTimeout(timer);
    },
    unref: () => {
      unrefed = true;
      timer.unref();
      return handle;
    },
  };
  return handle;
}
