import { Logger } from '@nestjs/common';
import { Duration, toMilliseconds } from '../common/duration';
import { ClassifyErrorHook } from '../errors/error-classifier';
import { ErrorKind } from '../errors/error-kind';
import { KagziError } from '../errors/kagzi.error';
import { LeaseLostError } from '../errors/lease-lost.error';
import { PermanentError, StepError, TransientError } from '../errors/step.error';
import { rehydrateStepError, serializeStepError, toStepError } from '../errors/step-error.serializer';
import { UsageError } from '../errors/usage.error';
import { Lease, RunRepository, StepCommitOutcome } from '../persistence/run.repository';
import { StoredStepRow } from '../persistence/run.rows';
import { PayloadSerializer, hashArguments } from './payload.serializer';
import { RunScope, runScopeStorage } from './run-scope.storage';
import { RetryPolicy } from './retry-policy';
import { StepDefinition } from './step-definition';

const SLEEP_STEP = '$sleep';

export interface RunExecutionDeps {
  repository: RunRepository;
  serializer: PayloadSerializer;
  classifyError?: ClassifyErrorHook;
  defaultRetry: RetryPolicy;
  logger: Logger;
}

/** Why the workflow function stopped before returning: it is abandoned, never resumed in this process. */
export type ExecutionStop =
  | { kind: 'suspended'; wakeAt: Date }
  | { kind: 'lost'; reason: string }
  | { kind: 'fatal'; error: StepError };

/**
 * One claimed run in this worker: its lease, the steps recorded so far, and the step-key counters.
 * Every write goes through the lease; a refused write stops the execution locally.
 */
export class RunExecution {
  readonly controller = new AbortController();
  readonly stopped: Promise<ExecutionStop>;
  private stop?: ExecutionStop;
  private resolveStop!: (stop: ExecutionStop) => void;
  private readonly counters = new Map<string, number>();
  private inFlightSteps = 0;
  private readonly idleWaiters: Array<() => void> = [];
  private parking = false;

  constructor(
    readonly lease: Lease,
    readonly workflowName: string,
    readonly version: number,
    private readonly stored: Map<string, StoredStepRow>,
    private readonly deps: RunExecutionDeps,
  ) {
    this.stopped = new Promise((resolve) => (this.resolveStop = resolve));
  }

  get runId(): string {
    return this.lease.runId;
  }

  get stopReason(): ExecutionStop | undefined {
    return this.stop;
  }

  /** Deterministic step key: scope path + step name + how often that name was called in that scope. */
  nextKey(path: string, name: string): string {
    const counterKey = `${path}\u0000${name}`;
    const n = (this.counters.get(counterKey) ?? 0) + 1;
    this.counters.set(counterKey, n);
    return `${path}${name}#${n}`;
  }

  async runStep<T>(scope: RunScope, def: StepDefinition, body: () => unknown, args: readonly unknown[]): Promise<T> {
    // The key is taken before the first await, so concurrent calls get keys in call order.
    const key = this.nextKey(scope.path, def.name);
    this.throwIfStopped();
    const argsHash = hashArguments(args);
    const recorded = this.stored.get(key);
    let failedAttempts = 0;
    if (recorded) {
      this.checkRecorded(key, def.name, argsHash, recorded);
      if (recorded.status !== 'RUNNING') return this.replay<T>(recorded);
      // Waiting for a retry: resume the count; a run woken early (handed back) parks again.
      failedAttempts = recorded.attempts;
      const nextAt = recorded.next_attempt_at;
      if (nextAt && nextAt.getTime() > Date.now()) {
        return this.park(nextAt, `waiting for attempt ${failedAttempts + 1} of step "${def.name}"`, () =>
          this.deps.repository.suspendRun(this.lease, key, 'null', nextAt, false),
        );
      }
    }
    return this.attempt<T>(scope, def, key, argsHash, body, failedAttempts + 1);
  }

  async sleep(scope: RunScope, duration: Duration): Promise<void> {
    const ms = toMilliseconds(duration, 'ctx.sleep() duration');
    if (scope.inStep) throw new UsageError('ctx.sleep() was called inside a step body; call it from the workflow code between steps.');
    const key = this.nextKey(scope.path, SLEEP_STEP);
    this.throwIfStopped();
    const recorded = this.stored.get(key);
    let wakeAt: Date;
    if (recorded) {
      if (recorded.kind !== 'SLEEP') this.failNonDeterministic(key, SLEEP_STEP, `a step "${recorded.step_name}" was recorded there`);
      wakeAt = this.deps.serializer.decode<Date>(recorded.output);
      if (wakeAt.getTime() <= Date.now()) return;
    } else {
      if (ms <= 0) return;
      wakeAt = new Date(Date.now() + ms);
    }
    const payload = this.deps.serializer.encode(wakeAt, 'sleep wake-up time').text;
    return this.park(wakeAt, 'recording a sleep', () => this.deps.repository.suspendRun(this.lease, key, payload, wakeAt, !recorded));
  }

  /** One execution of a step body, then its durable outcome: completed, failed for good, or retried later. */
  private async attempt<T>(scope: RunScope, def: StepDefinition, key: string, argsHash: string, body: () => unknown, attempt: number): Promise<T> {
    await this.gate();
    this.inFlightSteps++;
    const startedAt = new Date();
    const controller = new AbortController();
    const onRunAbort = (): void => controller.abort(this.controller.signal.reason);
    this.controller.signal.addEventListener('abort', onRunAbort, { once: true });
    let value: unknown;
    try {
      value = await this.invoke(scope, def, body, controller, attempt);
    } catch (err: unknown) {
      this.throwIfStopped();
      const error = toStepError(err, { stepName: def.name, attempt }, this.deps.classifyError);
      const policy = def.retry ?? this.deps.defaultRetry;
      if (policy.shouldRetry(error)) {
        const nextAttemptAt = new Date(Date.now() + policy.delayBefore(attempt + 1, error.retryAfterMs));
        this.settleStep();
        this.deps.logger.warn(
          `Run ${this.runId}: step "${def.name}" (${key}) attempt ${attempt} failed [${error.kind}] ${error.message}; retrying at ${nextAttemptAt.toISOString()}`,
        );
        return this.park(nextAttemptAt, `recording attempt ${attempt} of step "${def.name}"`, () =>
          this.deps.repository.scheduleRetry(this.lease, {
            key, name: def.name, argsHash, error: serializeStepError(error), attempt, startedAt, nextAttemptAt,
          }),
        );
      }
      return this.commit<T>(key, def.name, argsHash, startedAt, attempt, { status: 'FAILED', error });
    } finally {
      this.controller.signal.removeEventListener('abort', onRunAbort);
    }
    this.throwIfStopped();
    let text: string;
    try {
      text = this.deps.serializer.encode(value, `output of step "${def.name}"`).text;
    } catch (err: unknown) {
      const error = new PermanentError(err instanceof Error ? err.message : String(err), {
        kind: ErrorKind.ValidationFailed,
        code: err instanceof KagziError ? err.code : undefined,
      });
      error.stepName = def.name;
      error.attempt = attempt;
      return this.commit<T>(key, def.name, argsHash, startedAt, attempt, { status: 'FAILED', error });
    }
    return this.commit<T>(key, def.name, argsHash, startedAt, attempt, { status: 'COMPLETED', text });
  }

  /** Runs the body in the step's scope; with a timeout, the attempt fails (and its signal aborts) when it expires. */
  private invoke(scope: RunScope, def: StepDefinition, body: () => unknown, controller: AbortController, attempt: number): Promise<unknown> {
    const running = Promise.resolve(runScopeStorage.run({ ...scope, inStep: true, attemptSignal: controller.signal }, body));
    const timeoutMs = def.timeoutMs;
    if (timeoutMs === undefined) return running;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new TransientError(`Step "${def.name}" attempt ${attempt} timed out after ${timeoutMs} ms`, {
          kind: ErrorKind.Timeout,
          code: 'KAGZI_STEP_TIMEOUT',
        });
        controller.abort(error);
        reject(error);
      }, timeoutMs);
      running.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** Stop from outside (cancel, drain timeout): abort the signal; later writes are fenced anyway. */
  abort(reason: string): void {
    if (!this.stop) this.finish({ kind: 'lost', reason });
  }

  private checkRecorded(key: string, name: string, argsHash: string, recorded: StoredStepRow): void {
    if (recorded.kind !== 'STEP') this.failNonDeterministic(key, name, 'a durable sleep was recorded there');
    if (recorded.args_hash !== null && recorded.args_hash !== argsHash) {
      this.failNonDeterministic(key, name, 'it was called with different arguments than when the run first executed it');
    }
  }

  private replay<T>(recorded: StoredStepRow): T {
    if (recorded.status === 'FAILED' && recorded.error) throw rehydrateStepError(recorded.error);
    return this.deps.serializer.decode<T>(recorded.output);
  }

  /**
   * Parks the run until `wakeAt` (sleep, retry back-off): waits for steps already running in other
   * branches to commit, blocks new ones, then releases the lease in one fenced write. The caller's
   * promise never settles: the run resumes by replay in whichever worker claims it next.
   */
  private async park(wakeAt: Date, what: string, write: () => Promise<boolean>): Promise<never> {
    if (this.parking) return new Promise<never>(() => undefined);
    this.parking = true;
    await this.quiesce();
    this.throwIfStopped();
    const parked = await this.write(what, write);
    if (!parked) this.loseLease(`the run was cancelled or claimed by another worker before ${what}`);
    this.finish({ kind: 'suspended', wakeAt });
    return new Promise<never>(() => undefined);
  }

  /** New step attempts wait here forever once the run is being parked. */
  private async gate(): Promise<void> {
    if (this.parking) await new Promise<never>(() => undefined);
  }

  private async quiesce(): Promise<void> {
    while (this.inFlightSteps > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private settleStep(): void {
    this.inFlightSteps--;
    if (this.inFlightSteps === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async commit<T>(
    key: string,
    name: string,
    argsHash: string,
    startedAt: Date,
    attempt: number,
    result: { status: 'COMPLETED'; text: string } | { status: 'FAILED'; error: StepError },
  ): Promise<T> {
    let outcome: StepCommitOutcome;
    try {
      outcome = await this.write(`recording step "${name}" (${key})`, () =>
        this.deps.repository.commitStep(this.lease, {
          key,
          name,
          status: result.status,
          argsHash,
          output: result.status === 'COMPLETED' ? result.text : null,
          error: result.status === 'FAILED' ? serializeStepError(result.error) : null,
          startedAt,
          attempt,
        }),
      );
    } finally {
      this.settleStep();
    }
    if (outcome.kind === 'lost') this.loseLease(`its commit of step "${name}" (${key}) was refused`);
    this.throwIfStopped();
    if (outcome.kind === 'exists') return this.replay<T>(outcome.step);
    if (result.status === 'FAILED') throw result.error;
    // Hand back the stored form, not the live object, so the first run sees exactly what a replay will.
    return this.deps.serializer.decode<T>(JSON.parse(result.text));
  }

  /**
   * A database error while writing is not the workflow's failure: stop the run here without
   * recording anything, and let its lease expire so a worker resumes it from the last commit.
   */
  private async write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err: unknown) {
      this.deps.logger.error(`Run ${this.runId}: database error while ${what}; stopping it here, it resumes when its lease expires: ${String(err)}`);
      this.finish({ kind: 'lost', reason: `database error while ${what}` });
      throw new LeaseLostError(`Run ${this.runId} stopped: database error while ${what}`, { cause: err });
    }
  }

  private failNonDeterministic(key: string, name: string, what: string): never {
    const error = new PermanentError(
      `Non-determinism in run ${this.runId}: step "${name}" (key ${key}) no longer matches the recorded history: ${what}. ` +
        'Workflow code must make the same step calls with the same arguments on every replay; ship changed logic as a new workflow version.',
      { kind: ErrorKind.NonDeterminism, code: 'KAGZI_NON_DETERMINISM' },
    );
    error.stepName = name;
    this.finish({ kind: 'fatal', error });
    throw error;
  }

  private loseLease(why: string): never {
    this.deps.logger.warn(`Run ${this.runId}: lease lost, stopping it locally: ${why}`);
    this.finish({ kind: 'lost', reason: why });
    throw new LeaseLostError(`Run ${this.runId} is no longer owned by this worker: ${why}`);
  }

  private throwIfStopped(): void {
    const stop = this.stop;
    if (!stop) return;
    if (stop.kind === 'fatal') throw stop.error;
    throw new LeaseLostError(`Run ${this.runId} stopped in this worker (${stop.kind === 'lost' ? stop.reason : 'suspended'})`);
  }

  private finish(stop: ExecutionStop): void {
    if (this.stop) return;
    this.stop = stop;
    if (stop.kind !== 'suspended') this.controller.abort(stop.kind === 'fatal' ? stop.error : new LeaseLostError(stop.reason));
    this.resolveStop(stop);
  }
}
