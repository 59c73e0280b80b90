import { Duration, toMilliseconds } from '../common/duration';
import { ErrorKind } from '../errors/error-kind';
import { ResultTimeoutError } from '../errors/result-timeout.error';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { rehydrateStepError } from '../errors/step-error.serializer';
import { WorkflowCancelledError } from '../errors/workflow-cancelled.error';
import { WorkflowFailedError } from '../errors/workflow-failed.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { RunStatus, TERMINAL_STATUSES } from '../interfaces/run.interface';
import { NotificationListener } from '../persistence/notification.listener';
import { RunRepository } from '../persistence/run.repository';
import { RunOutcomeRow } from '../persistence/run.rows';

export interface HandleDeps {
  repository: RunRepository;
  notifications: NotificationListener;
  serializer: PayloadSerializer;
  pollIntervalMs: number;
  cancel(runId: string, reason?: string): Promise<void>;
}

/** A started run: await its result, read its status, or cancel it. */
export class WorkflowHandle<O = unknown> {
  constructor(
    readonly runId: string,
    private readonly deps: HandleDeps,
  ) {}

  /**
   * Resolves with the run's output once it completes; rejects with WorkflowFailedError or
   * WorkflowCancelledError, or ResultTimeoutError after `timeout` (the run itself goes on).
   * Woken by NOTIFY when the run finishes; polls as a fallback.
   */
  result(options: { timeout?: Duration } = {}): Promise<O> {
    const timeoutMs = options.timeout === undefined ? undefined : toMilliseconds(options.timeout, 'result() timeout');
    return new Promise<O>((resolve, reject) => {
      let settled = false;
      let checking = false;
      let recheck = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        unsubscribe();
        timers.forEach((t) => clearTimeout(t));
        fn();
      };
      const check = async (): Promise<void> => {
        if (checking) {
          recheck = true;
          return;
        }
        checking = true;
        try {
          do {
            recheck = false;
            const outcome = await this.deps.repository.getRunOutcome(this.runId);
            if (!outcome) return finish(() => reject(new RunNotFoundError(`No workflow run has id ${this.runId}`)));
            if (TERMINAL_STATUSES.includes(outcome.status)) {
              return finish(() => {
                try {
                  resolve(this.toResult(outcome));
                } catch (err: unknown) {
                  reject(err);
                }
              });
            }
          } while (recheck && !settled);
        } catch (err: unknown) {
          // A database hiccup: the next notification or poll tries again.
          if (!this.deps.repository.isOpen()) finish(() => reject(err));
        } finally {
          checking = false;
        }
      };
      const unsubscribe = this.deps.notifications.onFinished(this.runId, () => void check());
      const poll = (): void => {
        timers[0] = setTimeout(() => {
          void check().then(() => !settled && poll());
        }, this.deps.pollIntervalMs);
      };
      poll();
      if (timeoutMs !== undefined) {
        timers.push(setTimeout(() => finish(() => reject(new ResultTimeoutError(`Run ${this.runId} did not finish within ${timeoutMs} ms`))), timeoutMs));
      }
      void check();
    });
  }

  async status(): Promise<RunStatus> {
    const outcome = await this.deps.repository.getRunOutcome(this.runId);
    if (!outcome) throw new RunNotFoundError(`No workflow run has id ${this.runId}`);
    return outcome.status;
  }

  cancel(reason?: string): Promise<void> {
    return this.deps.cancel(this.runId, reason);
  }

  private toResult(outcome: RunOutcomeRow): O {
    if (outcome.status === 'COMPLETED') return this.deps.serializer.decode<O>(outcome.output);
    if (outcome.status === 'CANCELLED') throw new WorkflowCancelledError(this.runId, outcome.error?.message);
    const error = outcome.error
      ? rehydrateStepError(outcome.error)
      : rehydrateStepError({ name: 'StepError', kind: ErrorKind.Unknown, message: 'failed without a recorded error', retryable: false, attempt: 1, stepName: '', occurredAt: new Date().toISOString() });
    throw new WorkflowFailedError(this.runId, error);
  }
}
