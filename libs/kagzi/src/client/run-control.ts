import { RunNotFoundError } from '../errors/run-not-found.error';
import { RunNotRetryableError } from '../errors/run-not-retryable.error';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { cancelStepError } from '../errors/workflow-cancelled.error';
import { serializeStepError } from '../errors/step-error.serializer';
import { ConnectionRetry } from '../persistence/connection-retry';
import { RunStore } from '../persistence/run.store';
import { assertRunId } from './client-input';

/** What an operator does to one run: cancel it, or run a failed or cancelled one again (the client's `cancel` and `retry`). */
export class RunControl {
  constructor(
    private readonly runs: RunStore,
    private readonly retry: ConnectionRetry,
  ) {}

  async cancel(runId: string, reason?: string): Promise<void> {
    assertRunId(runId);
    if (reason !== undefined && typeof reason !== 'string') throw new InvalidOptionsError(`cancel(): the reason must be a string; got ${typeof reason}`);
    const error = serializeStepError(cancelStepError(reason));
    // Safe to repeat: a run already asked (or finished) is left as it is.
    const known = await this.retry.run(`cancel(${runId})`, () => this.runs.cancelRun(runId, error));
    if (!known) throw new RunNotFoundError(`No workflow run has id ${runId}`);
  }

  async rerun(runId: string): Promise<void> {
    assertRunId(runId);
    // Safe to repeat: an attempt whose reply was lost made the run PENDING, and the retry then refuses
    // with RunNotRetryableError — so it reports success when the run is live and was retried just now.
    let retriedBefore = false;
    const outcome = await this.retry.run(`retry(${runId})`, async (attempt) => {
      const result = await this.runs.retryRun(runId);
      if (attempt > 1 && !result.retried && result.status === 'PENDING') retriedBefore = true;
      return result;
    });
    if (outcome.status === null) throw new RunNotFoundError(`No workflow run has id ${runId}`);
    if (!outcome.retried && !retriedBefore) throw new RunNotRetryableError(runId, outcome.status);
  }
}
