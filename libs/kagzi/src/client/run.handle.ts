import { Duration, toMilliseconds } from '../common/duration';
import { withTimeout } from '../common/timeout';
import { ErrorKind } from '../errors/error-kind';
import { ResultTimeoutError } from '../errors/result-timeout.error';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { rehydrateStepError } from '../errors/step-error.serializer';
import { WorkflowCancelledError } from '../errors/workflow-cancelled.error';
import { WorkflowFailedError } from '../errors/workflow-failed.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { RunStatus } from '../interfaces/run.interface';
import { ConnectionRetry } from '../persistence/connection-retry';
import { RunStore } from '../persistence/run.store';
import { RunOutcomeRow } from '../persistence/run.rows';
import { RunOutcomeWaiter } from './run-outcome.waiter';
import { WorkflowHandle } from './workflow.handle';

export interface HandleDeps {
  runs: RunStore;
  waiter: RunOutcomeWaiter;
  serializer: PayloadSerializer;
  /** Retries the handle's reads through a database outage (the client's reconnectTimeout). */
  retry: ConnectionRetry;
  cancel(runId: string, reason?: string): Promise<void>;
}

/** The {@link WorkflowHandle} the client hands out: reads go through the client's run store and retry. */
export class RunHandle<O = unknown> implements WorkflowHandle<O> {
  constructor(
    readonly runId: string,
    private readonly deps: HandleDeps,
  ) {}

  /**
   * Resolves with the run's output once it completes; rejects with WorkflowFailedError or
   * WorkflowCancelledError, or ResultTimeoutError after `timeout` (the run itself goes on).
   */
  async result(options: { timeout?: Duration } = {}): Promise<O> {
    const timeoutMs = options.timeout === undefined ? undefined : toMilliseconds(options.timeout, 'result() timeout');
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    // A run that continued as new completed with the next run's id: follow the chain to its last run.
    for (let runId = this.runId; ; ) {
      const outcome = await this.outcomeOf(runId, deadline, timeoutMs);
      if (outcome.status === 'COMPLETED' && outcome.continued_as) runId = outcome.continued_as;
      else return this.toResult(runId, outcome);
    }
  }

  async status(): Promise<RunStatus> {
    const outcome = await this.deps.retry.run(`status() of run ${this.runId}`, () => this.deps.runs.getRunOutcome(this.runId));
    if (!outcome) throw new RunNotFoundError(`No workflow run has id ${this.runId}`);
    return outcome.status;
  }

  cancel(reason?: string): Promise<void> {
    return this.deps.cancel(this.runId, reason);
  }

  private outcomeOf(runId: string, deadline: number | undefined, timeoutMs: number | undefined): Promise<RunOutcomeRow> {
    const waiting = this.deps.waiter.wait(runId);
    if (deadline === undefined) return waiting.outcome;
    return withTimeout(waiting.outcome, Math.max(0, deadline - Date.now()), () => {
      waiting.cancel();
      return new ResultTimeoutError(`Run ${this.runId} did not finish within ${timeoutMs} ms; it goes on, call result() again to keep waiting`);
    });
  }

  private toResult(runId: string, outcome: RunOutcomeRow): O {
    if (outcome.status === 'COMPLETED') return this.deps.serializer.decode<O>(outcome.output);
    if (outcome.status === 'CANCELLED') throw new WorkflowCancelledError(runId, outcome.error?.message);
    const error = rehydrateStepError(
      outcome.error ?? { name: 'StepError', kind: ErrorKind.Unknown, message: 'failed without a recorded error', retryable: false, attempt: 1, stepName: '', occurredAt: new Date().toISOString() },
    );
    throw new WorkflowFailedError(runId, error);
  }
}
