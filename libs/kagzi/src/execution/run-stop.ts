import { setMaxListeners } from 'node:events';
import { ErrorKind } from '../errors/error-kind';
import { LeaseLostError } from '../errors/lease-lost.error';
import { PermanentError, StepError } from '../errors/step.error';
import { WorkflowCancelledError } from '../errors/workflow-cancelled.error';
import type { RunLogger } from './run-logger';

/** Why the workflow function stopped before returning: it is abandoned, never resumed in this process. */
export type ExecutionStop =
  | { kind: 'suspended'; wakeAt: Date }
  | { kind: 'lost'; reason: string }
  | { kind: 'fatal'; error: StepError }
  | { kind: 'continued'; nextRunId: string }
  /** Replay only: the code made a call past its records (`what`); a worker would execute it now. */
  | { kind: 'frontier'; what: string };

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
    if (stop.kind !== 'suspended') this.controller.abort(abortReason(stop));
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
    if (stop?.kind === 'continued') return 'the run continued as new';
    if (stop?.kind === 'frontier') return 'the replay reached the end of the history';
    return stop?.kind === 'suspended' ? 'the run was parked' : undefined;
  }

  /** Fails the run: the code no longer matches its recorded history at `key`. */
  failNonDeterministic(key: string, name: string, what: string): never {
    const error = new PermanentError(
      `Non-determinism in run ${this.runId}: step "${name}" (key ${key}) no longer matches the recorded history: ${what}. ` +
        'Workflow code must make the same step calls with the same arguments on every replay; ship changed logic as a new workflow version.',
      { kind: ErrorKind.NonDeterminism, code: 'KAGZI_NON_DETERMINISM' },
    );
    error.stepName = name;
    this.finish({ kind: 'fatal', error });
    throw error;
  }

  /** A write of the run was refused: this worker no longer holds it. */
  loseLease(why: string, logger: Pick<RunLogger, 'warn'>): never {
    logger.warn(`Run ${this.runId}: lease lost, stopping it locally: ${why}`);
    this.finish({ kind: 'lost', reason: why });
    throw new LeaseLostError(`Run ${this.runId} is no longer owned by this worker: ${why}`);
  }

  /** Replay only: the code went past its records at `what`; it stops there (nothing is executed or written). */
  reachFrontier(what: string): never {
    this.finish({ kind: 'frontier', what });
    throw new LeaseLostError(`Run ${this.runId}: the replay reached the end of the recorded history at ${what}`);
  }

  /** Throws if the run (or the branch whose signal is given) was stopped: no new work may start. */
  throwIfStopped(branchSignal?: AbortSignal): void {
    const stop = this.current;
    if (stop) {
      if (stop.kind === 'fatal') throw stop.error;
      throw new LeaseLostError(`Run ${this.runId} stopped in this worker (${stop.kind === 'lost' ? stop.reason : stop.kind === 'frontier' ? `replay ended at ${stop.what}` : stop.kind})`);
    }
    if (branchSignal?.aborted) {
      if (branchSignal.reason instanceof WorkflowCancelledError) throw branchSignal.reason;
      throw new StepError('The branch was aborted (another branch failed or won the race)', { kind: ErrorKind.Cancelled, cause: branchSignal.reason });
    }
  }
}

function abortReason(stop: Exclude<ExecutionStop, { kind: 'suspended' }>): Error {
  if (stop.kind === 'fatal') return stop.error;
  if (stop.kind === 'lost') return new LeaseLostError(stop.reason);
  if (stop.kind === 'frontier') return new LeaseLostError(`the replay reached the end of the recorded history at ${stop.what}`);
  return new StepError(`The run continued as new run ${stop.nextRunId}`, { kind: ErrorKind.Cancelled });
}

/** Every concurrent step attempt and child group listens to its parent's signal: no listener cap. */
export function unlimitedListeners(controller: AbortController): AbortController {
  setMaxListeners(0, controller.signal);
  return controller;
}
