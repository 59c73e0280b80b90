import { MAX_DATE_MS } from '../common/limits';
import { setLongTimeout, LongTimer } from '../common/long-timer';
import { ErrorKind } from '../errors/error-kind';
import { StepError } from '../errors/step.error';
import { WorkflowCancelledError } from '../errors/workflow-cancelled.error';

/** The strands of one parallel group, as the fibers count them. */
export interface FiberGroup {
  /** A branch settled; `settlesGroup` when its end decides the group (its caller runs again). */
  branchEnded(settlesGroup?: boolean): void;
}

interface Blocked {
  wakeAt: Date;
  timer?: LongTimer;
  /** Ends the wait (when its time comes, or earlier when the testing clock skips past it). */
  fire?: () => void;
  /** A signal wait: a run parked with it must be woken by a signal too. */
  forSignal: boolean;
}

/**
 * What of a run's code can make progress: its strands (the top level, the running branches of its
 * parallel groups) and the step attempts executing now. A strand that must wait (sleep, retry
 * back-off) blocks here with its wake-up time while the rest goes on. The run is parked (lease
 * released, worker slot freed) only when no strand can progress and no step is executing, until the
 * earliest wake-up; a blocked strand whose time comes first simply continues in process.
 *
 * Steps count on their own because workflow code may overlap them without `ctx.parallel`
 * (`Promise.all([ctx.sleep('1m'), this.charge()])`): a run parked while `charge` executes would
 * be resumed elsewhere and `charge` would run twice. Once parking starts, no step may start.
 */
export class RunFibers {
  private live = 1;
  private executing = 0;
  private readonly blocked = new Map<Blocked, { resolve(): void; reject(err: unknown): void }>();
  private parkingStarted = false;
  private idleCheck?: NodeJS.Immediate;
  /** While held (a cancel being delivered), the run is not parked. */
  private holds = 0;
  /** Step bodies running now (a body runs on after its attempt ends: a timeout, a cancel, a stop). */
  private bodies = 0;
  private bodiesWaiters: Array<() => void> = [];

  constructor(private readonly onIdle: (dueAt: Date, forSignal: boolean) => void) {}

  /**
   * Whether the calling strand, which must wait, may park the run itself: it is the only strand that
   * can progress, and no step executes but the `own` attempts of its own (a failed attempt about to
   * record its retry).
   */
  canPark(own = 0): boolean {
    return !this.parkingStarted && this.holds === 0 && this.live === 1 && this.executing === own;
  }

  /** Keeps the run from being parked until the returned function (idempotent) is called. */
  hold(): () => void {
    this.holds++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.holds--;
      this.scheduleIdleCheck();
    };
  }

  get parking(): boolean {
    return this.parkingStarted;
  }

  /**
   * Resolves after the current turn of the event loop, so that calls made in the same turn (the other
   * members of a `Promise.all`) have started their steps before a strand decides to park the run.
   */
  settle(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** The run is being parked: blocked strands stay blocked; the run resumes by replay. */
  startParking(): void {
    this.parkingStarted = true;
    if (this.idleCheck) clearImmediate(this.idleCheck);
    for (const b of this.blocked.keys()) b.timer?.clear();
  }

  /** The earliest wake-up among `at` and every blocked strand. */
  earliest(at: Date): Date {
    let min = at;
    for (const b of this.blocked.keys()) if (b.wakeAt < min) min = b.wakeAt;
    return min;
  }

  /** A step attempt starts executing; call the returned function (idempotent) once its outcome is recorded. */
  stepStarted(): () => void {
    this.executing++;
    let running = true;
    return () => {
      if (!running) return;
      running = false;
      this.executing--;
      this.scheduleIdleCheck();
    };
  }

  /** A step body was called; call the returned function once its promise settled. */
  bodyStarted(): () => void {
    this.bodies++;
    return () => {
      if (--this.bodies === 0) for (const settled of this.bodiesWaiters.splice(0)) settled();
    };
  }

  /** Undefined when no step body runs; else resolves once none does (a stopped run's bodies end on their own). */
  bodiesSettled(): Promise<void> | undefined {
    if (this.bodies === 0) return undefined;
    return new Promise<void>((resolve) => this.bodiesWaiters.push(resolve));
  }

  /**
   * A group starts: its caller waits on it while `branches` strands run. Each branch reports its end
   * once; the end that settles the group also lets the caller run again, before it counts as ended,
   * so the run is never seen idle in between.
   */
  fork(branches: number): FiberGroup {
    this.live += branches - 1;
    let callerResumed = false;
    return {
      branchEnded: (settlesGroup = false) => {
        if (settlesGroup && !callerResumed) {
          callerResumed = true;
          this.live++;
        }
        this.live--;
        this.scheduleIdleCheck();
      },
    };
  }

  /** Waits in process until `wakeAt`; rejects if `signal` (the branch) aborts first. `forSignal`: a signal wait. */
  block(wakeAt: Date, signal?: AbortSignal, forSignal = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: Blocked = { wakeAt, forSignal };
      const release = (): boolean => {
        if (this.parkingStarted || !this.blocked.has(entry)) return false;
        entry.timer?.clear();
        this.blocked.delete(entry);
        signal?.removeEventListener('abort', onAbort);
        this.live++;
        return true;
      };
      const onAbort = (): void => {
        if (!release()) return;
        const reason: unknown = signal?.reason;
        reject(reason instanceof WorkflowCancelledError ? reason : new StepError('The branch was aborted while it waited', { kind: ErrorKind.Cancelled, cause: reason }));
      };
      entry.fire = () => release() && resolve();
      entry.timer = setLongTimeout(entry.fire, wakeAt.getTime() - Date.now());
      this.blocked.set(entry, { resolve, reject });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.live--;
      this.scheduleIdleCheck();
    });
  }

  /** Testing (`kt.clock.advance`): every in-process wait ends `ms` earlier, at once if it ends within them. */
  skip(ms: number): void {
    for (const entry of this.blocked.keys()) {
      entry.wakeAt = new Date(Math.max(Date.now(), entry.wakeAt.getTime() - ms));
      entry.timer?.clear();
      if (entry.fire) entry.timer = setLongTimeout(entry.fire, entry.wakeAt.getTime() - Date.now());
    }
  }

  /** The run stopped here (finished elsewhere, lost, suspended): nothing may wake up any more. */
  dispose(): void {
    this.startParking();
  }

  /** After the current turn, like {@link settle}: a step that a sibling starts in this turn keeps the run. */
  private scheduleIdleCheck(): void {
    if (this.idleCheck || this.parkingStarted) return;
    this.idleCheck = setImmediate(() => {
      this.idleCheck = undefined;
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.live > 0 || this.executing > 0 || this.holds > 0 || this.parkingStarted || this.blocked.size === 0) return;
    const due = this.earliest(new Date(MAX_DATE_MS));
    const forSignal = [...this.blocked.keys()].some((b) => b.forSignal);
    this.startParking();
    this.onIdle(due, forSignal);
  }
}
