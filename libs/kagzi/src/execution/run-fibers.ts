import { ErrorKind } from '../errors/error-kind';
import { StepError } from '../errors/step.error';

interface Blocked {
  wakeAt: Date;
  timer?: NodeJS.Timeout;
}

/**
 * Which strands of a run's code can make progress: the top level, or the running branches of its
 * parallel groups. A strand that must wait (sleep, retry back-off) blocks here with its wake-up
 * time, while the others go on. The run is parked (lease released, worker slot freed) only when no
 * strand can progress, until the earliest wake-up; a blocked strand whose time comes first simply
 * continues in process.
 */
export class RunFibers {
  private live = 1;
  private readonly blocked = new Map<Blocked, { resolve(): void; reject(err: unknown): void }>();
  private parkingStarted = false;

  constructor(private readonly onIdle: (dueAt: Date) => void) {}

  /** Whether the calling strand is the only one that can progress (so waiting means parking). */
  get isLast(): boolean {
    return this.live === 1;
  }

  get parking(): boolean {
    return this.parkingStarted;
  }

  /** The run is being parked: blocked strands stay blocked; the run resumes by replay. */
  startParking(): void {
    this.parkingStarted = true;
    for (const b of this.blocked.keys()) clearTimeout(b.timer);
  }

  /** The earliest wake-up among `at` and every blocked strand. */
  earliest(at: Date): Date {
    let min = at;
    for (const b of this.blocked.keys()) if (b.wakeAt < min) min = b.wakeAt;
    return min;
  }

  /** A group starts: its caller waits on it while `branches` strands run. */
  fork(branches: number): void {
    this.live += branches - 1;
  }

  /** A group settled: its caller runs again. Call before the settling branch's `ended()`. */
  resumed(): void {
    this.live++;
  }

  /** A branch settled. */
  ended(): void {
    this.live--;
    this.checkIdle();
  }

  /** Waits in process until `wakeAt`; rejects if `signal` (the branch) aborts first. */
  block(wakeAt: Date, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: Blocked = { wakeAt };
      const release = (): boolean => {
        if (this.parkingStarted || !this.blocked.has(entry)) return false;
        clearTimeout(entry.timer);
        this.blocked.delete(entry);
        signal?.removeEventListener('abort', onAbort);
        this.live++;
        return true;
      };
      const onAbort = (): void => {
        if (release()) reject(new StepError('The branch was aborted while it waited', { kind: ErrorKind.Cancelled, cause: signal?.reason }));
      };
      entry.timer = setTimeout(() => release() && resolve(), Math.max(0, wakeAt.getTime() - Date.now()));
      this.blocked.set(entry, { resolve, reject });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.live--;
      this.checkIdle();
    });
  }

  /** The run stopped here (finished elsewhere, lost, suspended): nothing may wake up any more. */
  dispose(): void {
    this.parkingStarted = true;
    for (const b of this.blocked.keys()) clearTimeout(b.timer);
  }

  private checkIdle(): void {
    if (this.live > 0 || this.parkingStarted || this.blocked.size === 0) return;
    const due = this.earliest(new Date(8.64e15));
    this.startParking();
    this.onIdle(due);
  }
}
