import { WorkflowCancelledError } from '../errors/workflow-cancelled.error';
import { RunScope } from './run-scope.storage';
import { unlimitedListeners } from './run-stop';

/** The cancel as stored: when the run's code received it, and why. */
export interface DeliveredCancel {
  cutAt: Date;
  reason?: string;
}

/** What delivering a cancel needs of the run (RunExecution). */
export interface CancelDeps {
  /** False while the run is being parked or has stopped in this worker. */
  mayDeliver(): boolean;
  /** Keeps the run from being parked until the returned function is called. */
  hold(): () => void;
  /** Stores the cut, fenced by the lease; resolves undefined when the lease is gone (the run stops). */
  store(cutAt: Date): Promise<DeliveredCancel | undefined>;
}

/**
 * A cancel as the run's code sees it. A cancel is a request; the executing worker delivers it at a
 * *cut*: the moment it learnt of it. From the cut on, every durable operation outside
 * `ctx.nonCancellable` that has not already completed (recorded, or a sleep that ended by the cut)
 * rejects with one WorkflowCancelledError, including those pending now; operations inside
 * `nonCancellable` go on. The cut is stored before any write the cancelled code makes, so a replay
 * (after a crash during compensation) takes the same path: recorded records stand, and sleeps compare
 * their wake-up time with the stored cut rather than the clock.
 *
 * Between learning of the cancel and storing the cut (one statement) the run's writes wait
 * (`barrier`), operations that would start wait to reject, and the run is not parked.
 */
export class RunCancel {
  /** `ctx.signal`: aborted when the cancel is delivered, and when the run stops in this worker. */
  readonly controller = unlimitedListeners(new AbortController());
  /** While the cut is being stored: the run's other writes wait for it. */
  barrier?: Promise<void>;
  private cut?: Date;
  private error?: WorkflowCancelledError;
  private readonly delivered: Promise<WorkflowCancelledError>;
  private resolveDelivered!: (error: WorkflowCancelledError) => void;

  constructor(
    private readonly runId: string,
    private readonly stopSignal: AbortSignal,
    private readonly deps: CancelDeps,
  ) {
    this.delivered = new Promise((resolve) => (this.resolveDelivered = resolve));
    stopSignal.addEventListener('abort', () => this.controller.abort(stopSignal.reason), { once: true });
  }

  /** Whether a cancel has reached this execution (delivered, or being delivered). */
  get known(): boolean {
    return this.cut !== undefined;
  }

  /** The error the code received, once delivered. */
  get deliveredError(): WorkflowCancelledError | undefined {
    return this.error;
  }

  /** The signal operations of `scope` follow: the cancel's outside `nonCancellable`, else only the run's stops. */
  signalOf(scope: RunScope): AbortSignal {
    return scope.branchSignal ?? (scope.shielded ? this.stopSignal : this.controller.signal);
  }

  /**
   * A cancel was requested. With a cut stored earlier (read at the claim) the code receives it from its
   * start. Else the cancel is learnt now: fix the cut, store it, then deliver it; the run is not parked meanwhile.
   */
  deliver(stored?: DeliveredCancel): void {
    if (this.cut || !this.deps.mayDeliver()) return;
    if (stored) {
      this.cut = stored.cutAt;
      return this.receive(stored.reason);
    }
    const cutAt = new Date();
    this.cut = cutAt;
    const release = this.deps.hold();
    this.barrier = this.deps
      .store(cutAt)
      .then((stored) => {
        if (!stored) return;
        this.cut = stored.cutAt;
        this.receive(stored.reason);
      })
      .finally(() => {
        this.barrier = undefined;
        release();
      });
    this.barrier.catch(() => undefined); // the store's failure stops the run (see RunExecution)
  }

  /**
   * Where an operation of `scope` would start new work: rejects with the cancel once one is known
   * (after it is delivered) outside `nonCancellable`; resolves at once otherwise.
   */
  async point(scope: RunScope): Promise<void> {
    if (this.cut === undefined || scope.shielded) return;
    throw this.error ?? (await this.delivered);
  }

  /** Whether a durable sleep until `wakeAt` has ended: by the cut once a cancel is known, outside `nonCancellable`. */
  sleepEnded(scope: RunScope, wakeAt: Date): boolean {
    const cut = scope.shielded ? undefined : this.cut;
    return wakeAt.getTime() <= (cut ?? new Date()).getTime();
  }

  private receive(reason: string | undefined): void {
    const error = new WorkflowCancelledError(this.runId, reason);
    this.error = error;
    this.controller.abort(error);
    this.resolveDelivered(error);
  }
}
