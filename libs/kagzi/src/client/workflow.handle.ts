import { Duration } from '../common/duration';
import { RunStatus } from '../interfaces/run.interface';

/**
 * A started run: await its result, read its status, or cancel it. `WorkflowClient.start()` and
 * `getHandle()` create handles; there is nothing to construct. A handle holds only the run id, so
 * `client.getHandle(runId)` in another process (or after a restart) is as good as the original.
 */
export interface WorkflowHandle<O = unknown> {
  /** The run's id. */
  readonly runId: string;
  /**
   * Resolves with the run's output once it completes; rejects with WorkflowFailedError or
   * WorkflowCancelledError, or ResultTimeoutError after `timeout` (the run itself goes on).
   */
  result(options?: { timeout?: Duration }): Promise<O>;
  /** The run's status now; RunNotFoundError if no run has this id. */
  status(): Promise<RunStatus>;
  /** Cancels the run (see `WorkflowClient.cancel`). */
  cancel(reason?: string): Promise<void>;
}
