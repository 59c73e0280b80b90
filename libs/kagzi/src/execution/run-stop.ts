import { setMaxListeners } from 'node:events';
import { ErrorKind } from '../errors/error-kind';
import { LeaseLostError } from '../errors/lease-lost.error';
import { StepError } from '../errors/step.error';

/** Why the workflow function stopped before returning: it is abandoned, never resumed in this process. */
export type ExecutionStop =
  | { kind: 'suspended'; wakeAt: Date }
  | { kind: 'lost'; reason: string }
  | { kind: 'fatal'; error: StepError };

/**
 * Whether one execution of a run may go on in this worker, and why not. The first stop wins; the
 * run's AbortSignal fires for every stop but a suspension.
 */
export class RunStop {
  readonly controller = unlimitedListeners(new AbortController());
  readonly stopped: Promise<ExecutionStop>;
  private current?: ExecutionStop;
  /** Set when the run is taken from this worker, even after another stop (a failure still being recorded). */
  private abandoned?: string;
  private resolveStop!: (stop: ExecutionStop) => void;

  constructor(
    private readonly runId: string,
    private readonly onStop: () => void,
  ) {
    this.stopped = new Promise((resolve) => (this.resolveStop = resolve));
  }

  get reason(): ExecutionStop | undefined {
    return this.current;
  }

  finish(stop: ExecutionStop): void {
    if (this.current) return;
    this.current = stop;
    this.onStop();
    if (stop.kind !== 'suspended') this.controller.abort(stop.kind === 'fatal' ? stop.error : new LeaseLostError(stop.reason));
    this.resolveStop(stop);
  }

  /** The run is taken from this worker (cancel, drain timeout, lease not renewable). */
  abandon(reason: string): void {
    this.abandoned ??= reason;
    this.finish({ kind: 'lost', reason });
  }

  /** Why this worker no longer holds the run (lost, handed back, parked), or undefined while it does. */
  notHeld(): string | undefined {
    if (this.abandoned !== undefined) return this.abandoned;
    const stop = this.current;
    if (stop?.kind === 'lost') return stop.reason;
    return stop?.kind === 'suspended' ? 'the run was parked' : undefined;
  }

  /** Throws if the run (or the branch whose signal is given) was stopped: no new work may start. */
  throwIfStopped(branchSignal?: AbortSignal): void {
    const stop = this.current;
    if (stop) {
      if (stop.kind === 'fatal') throw stop.error;
      throw new LeaseLostError(`Run ${this.runId} stopped in this worker (${stop.kind === 'lost' ? stop.reason : 'suspended'})`);
    }
    if (branchSignal?.aborted) {
      throw new StepError('The branch was aborted (another branch failed or won the race)', { kind: ErrorKind.Cancelled, cause: branchSignal.reason });
    }
  }
}

/** Every concurrent step attempt and child group listens to its parent's signal: no listener cap. */
export function unlimitedListeners(controller: AbortController): AbortController {
  setMaxListeners(0, controller.signal);
  return controller;
}
