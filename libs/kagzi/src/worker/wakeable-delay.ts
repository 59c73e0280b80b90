/**
 * A delay that `wake()` ends at once. A wake that arrives while nobody waits is remembered,
 * so a NOTIFY that lands during a claim query is never lost.
 */
export class WakeableDelay {
  private resolveCurrent?: () => void;
  private woken = false;

  get pending(): boolean {
    return this.woken;
  }

  clearPending(): void {
    this.woken = false;
  }

  wake(): void {
    this.woken = true;
    this.resolveCurrent?.();
  }

  wait(ms: number): Promise<void> {
    if (this.woken) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.resolveCurrent === done) this.resolveCurrent = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.resolveCurrent = done;
    });
  }
}
