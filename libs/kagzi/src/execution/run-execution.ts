import { Logger } from '@nestjs/common';
import { setMaxListeners } from 'node:events';
import { Duration, toMilliseconds } from '../common/duration';
import { setLongTimeout } from '../common/long-timer';
import { ClassifyErrorHook } from '../errors/error-classifier';
import { ErrorKind } from '../errors/error-kind';
import { KagziError } from '../errors/kagzi.error';
import { LeaseLostError } from '../errors/lease-lost.error';
import { PermanentError, SerializedStepError, StepError, TransientError } from '../errors/step.error';
import { rehydrateStepError, serializeStepError, toStepError } from '../errors/step-error.serializer';
import { UsageError } from '../errors/usage.error';
import { Lease, RunRepository, StepPlacement } from '../persistence/run.repository';
import { StoredStepRow } from '../persistence/run.rows';
import { isConnectionFailure } from '../persistence/connection-failure';
import { describeDatabaseError, isDataError } from '../persistence/database-errors';
import { PayloadSerializer, hashArguments } from './payload.serializer';
import { RunScope, runScopeStorage } from './run-scope.storage';
import { RetryPolicy } from './retry-policy';
import { RunFibers } from './run-fibers';
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
  readonly controller = unlimitedListeners(new AbortController());
  readonly stopped: Promise<ExecutionStop>;
  private stop?: ExecutionStop;
  /** Set when the run is taken from this worker, even after another stop (a failure still being recorded). */
  private abandoned?: string;
  private resolveStop!: (stop: ExecutionStop) => void;
  private readonly counters = new Map<string, number>();
  /** Strands of this run's code that can progress; parks the run when none can. */
  readonly fibers = new RunFibers((due) => this.parkWhenIdle(due));

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

  /** Loads what earlier executions of the run recorded (before the workflow code starts). */
  async restore(): Promise<void> {
    const steps = await this.write('loading its recorded steps', () => this.deps.repository.loadSteps(this.runId));
    for (const step of steps) this.stored.set(step.step_key, step);
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
    this.throwIfStopped(scope);
    if (this.fibers.parking) return this.never();
    const argsHash = hashArguments(args, def.name);
    const recorded = this.stored.get(key);
    let attempt = 1;
    if (recorded) {
      this.checkRecorded(key, def.name, argsHash, recorded);
      if (recorded.status !== 'RUNNING') return this.replay<T>(recorded);
      // Waiting for a retry: the count goes on; a run woken early (handed back) waits again.
      attempt = recorded.attempts + 1;
      const nextAt = recorded.next_attempt_at;
      if (nextAt && nextAt.getTime() > Date.now()) await this.waitUntil(scope, nextAt, `waiting for attempt ${attempt} of step "${def.name}"`);
    }
    for (;; attempt++) {
      const outcome = await this.attempt<T>(scope, def, key, argsHash, body, attempt);
      if (outcome.done) return outcome.value;
    }
  }

  async sleep(scope: RunScope, duration: Duration): Promise<void> {
    const ms = toMilliseconds(duration, 'ctx.sleep() duration');
    if (scope.inStep) throw new UsageError('ctx.sleep() was called inside a step body; call it from the workflow code between steps.');
    const key = this.nextKey(scope.path, SLEEP_STEP);
    this.throwIfStopped(scope);
    const recorded = this.stored.get(key);
    if (recorded) {
      if (recorded.kind !== 'SLEEP') this.failNonDeterministic(key, SLEEP_STEP, `a step "${recorded.step_name}" was recorded there`);
      const wakeAt = this.deps.serializer.decode<Date>(recorded.output);
      if (wakeAt.getTime() > Date.now()) await this.waitUntil(scope, wakeAt, 'waiting for a sleep to end');
      return;
    }
    if (ms <= 0) return;
    const wakeAt = new Date(Date.now() + ms);
    const sleep = { key, output: this.deps.serializer.encode(wakeAt, 'sleep wake-up time').text, ...placement(scope) };
    await this.endOfTurn(scope);
    if (this.fibers.canPark()) {
      const due = this.fibers.earliest(wakeAt);
      return this.parkNow(due, 'recording a sleep', () => this.deps.repository.parkRun(this.lease, due, sleep));
    }
    const outcome = await this.write('recording a sleep', () =>
      this.deps.repository.recordMarker(this.lease, { ...sleep, name: 'sleep', kind: 'SLEEP' }),
    );
    if (outcome.kind === 'lost') this.loseLease('its sleep could not be recorded');
    await this.fibers.block(wakeAt, scope.branchSignal);
  }

  /**
   * Records a group's decision (a race's winner) durably. Returns the decision recorded earlier if
   * there was one (it wins), else undefined.
   */
  async recordDecision(scope: RunScope, key: string, name: string, decision: unknown): Promise<StoredStepRow | undefined> {
    const output = this.deps.serializer.encode(decision, `decision of ${name}`).text;
    const outcome = await this.write(`recording ${name} (${key})`, () =>
      this.deps.repository.recordMarker(this.lease, { key, name, kind: 'GROUP', output, ...placement(scope) }),
    );
    if (outcome.kind === 'lost') this.loseLease(`its record of ${name} (${key}) was refused`);
    return outcome.kind === 'exists' ? outcome.step : undefined;
  }

  /** The stored record under `key`, if any (steps, sleeps and group decisions). */
  recorded(key: string): StoredStepRow | undefined {
    return this.stored.get(key);
  }

  decode<T>(row: StoredStepRow): T {
    return this.deps.serializer.decode<T>(row.output);
  }

  /** Throws if the run (or the branch of `scope`) was stopped: no new work may start. */
  throwIfStopped(scope?: RunScope): void {
    const stop = this.stop;
    if (stop) {
      if (stop.kind === 'fatal') throw stop.error;
      throw new LeaseLostError(`Run ${this.runId} stopped in this worker (${stop.kind === 'lost' ? stop.reason : 'suspended'})`);
    }
    if (scope?.branchSignal?.aborted) {
      throw new StepError('The branch was aborted (another branch failed or won the race)', { kind: ErrorKind.Cancelled, cause: scope.branchSignal.reason });
    }
  }

  /** Waits until `wakeAt` with nothing to record: parks the run if nothing else can progress. */
  private async waitUntil(scope: RunScope, wakeAt: Date, what: string): Promise<void> {
    await this.endOfTurn(scope);
    if (this.fibers.canPark()) {
      const due = this.fibers.earliest(wakeAt);
      return this.parkNow(due, what, () => this.deps.repository.parkRun(this.lease, due));
    }
    await this.fibers.block(wakeAt, scope.branchSignal);
  }

  /** One execution of a step body and its durable outcome: done (completed or failed for good), or retried. */
  private async attempt<T>(
    scope: RunScope,
    def: StepDefinition,
    key: string,
    argsHash: string,
    body: () => unknown,
    attempt: number,
  ): Promise<{ done: true; value: T } | { done: false }> {
    if (this.fibers.parking) return this.never();
    // From here until its outcome is recorded, this attempt keeps the run from being parked.
    const executing = this.fibers.stepStarted();
    const startedAt = new Date();
    const controller = new AbortController();
    // A branch's signal already follows the run's, so one listener suffices.
    const parent = scope.branchSignal ?? this.controller.signal;
    const abortAttempt = (): void => controller.abort(parent.reason);
    parent.addEventListener('abort', abortAttempt, { once: true });
    try {
      let value: unknown;
      try {
        value = await this.invoke(scope, def, body, controller, attempt);
      } catch (err: unknown) {
        this.throwIfStopped(scope);
        const error = toStepError(err, { stepName: def.name, attempt }, this.deps.classifyError);
        const policy = def.retry ?? this.deps.defaultRetry;
        if (!policy.shouldRetry(error)) {
          return { done: true, value: await this.commit<T>(scope, key, def.name, argsHash, startedAt, attempt, { status: 'FAILED', error }) };
        }
        const nextAttemptAt = new Date(Date.now() + policy.delayBefore(attempt + 1, error.retryAfterMs));
        this.deps.logger.warn(
          `Run ${this.runId}: step "${def.name}" (${key}) attempt ${attempt} failed [${error.kind}] ${error.message}; retrying at ${nextAttemptAt.toISOString()}`,
        );
        const failed = { key, name: def.name, argsHash, error: serializeStepError(error), attempt, startedAt, nextAttemptAt };
        await this.retryLater(scope, failed, executing);
        return { done: false };
      }
      this.throwIfStopped(scope);
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
        return { done: true, value: await this.commit<T>(scope, key, def.name, argsHash, startedAt, attempt, { status: 'FAILED', error }) };
      }
      return { done: true, value: await this.commit<T>(scope, key, def.name, argsHash, startedAt, attempt, { status: 'COMPLETED', text }) };
    } finally {
      parent.removeEventListener('abort', abortAttempt);
      executing();
    }
  }

  /**
   * Records the failed attempt, then waits for the next one: parked if nothing else can progress,
   * else in process. `executing` ends the attempt's hold on the run once its failure is recorded.
   */
  private async retryLater(
    scope: RunScope,
    step: { key: string; name: string; argsHash: string; error: SerializedStepError; attempt: number; startedAt: Date; nextAttemptAt: Date },
    executing: () => void,
  ): Promise<void> {
    const what = `recording attempt ${step.attempt} of step "${step.name}"`;
    const placed = { ...step, ...placement(scope) };
    await this.endOfTurn(scope);
    if (this.fibers.canPark(1)) {
      const due = this.fibers.earliest(step.nextAttemptAt);
      return this.parkNow(due, what, () => this.deps.repository.scheduleRetry(this.lease, placed, due));
    }
    const recorded = await this.write(what, () => this.deps.repository.scheduleRetry(this.lease, placed));
    if (!recorded) this.loseLease(`its record of attempt ${step.attempt} of step "${step.name}" was refused`);
    executing();
    await this.fibers.block(step.nextAttemptAt, scope.branchSignal);
  }

  /** Runs the body in the step's scope; with a timeout, the attempt fails (and its signal aborts) when it expires. */
  private invoke(scope: RunScope, def: StepDefinition, body: () => unknown, controller: AbortController, attempt: number): Promise<unknown> {
    const running = Promise.resolve(runScopeStorage.run({ ...scope, inStep: true, attemptSignal: controller.signal }, body));
    const timeoutMs = def.timeoutMs;
    if (timeoutMs === undefined) return running;
    return new Promise((resolve, reject) => {
      const timer = setLongTimeout(() => {
        const error = new TransientError(`Step "${def.name}" attempt ${attempt} timed out after ${timeoutMs} ms`, {
          kind: ErrorKind.Timeout,
          code: 'KAGZI_STEP_TIMEOUT',
        });
        controller.abort(error);
        reject(error);
      }, timeoutMs);
      running.then(
        (value) => {
          timer.clear();
          resolve(value);
        },
        (err: unknown) => {
          timer.clear();
          reject(err);
        },
      );
    });
  }

  /** Stop from outside (cancel, drain timeout, lease not renewable): abort the signal; later writes are fenced anyway. */
  abort(reason: string): void {
    this.abandoned ??= reason;
    if (!this.stop) this.finish({ kind: 'lost', reason });
  }

  private checkRecorded(key: string, name: string, argsHash: string, recorded: StoredStepRow): void {
    if (recorded.kind !== 'STEP') this.failNonDeterministic(key, name, `a ${recorded.kind === 'SLEEP' ? 'durable sleep' : 'parallel group'} was recorded there`);
    if (recorded.args_hash !== null && recorded.args_hash !== argsHash) {
      this.failNonDeterministic(key, name, 'it was called with different arguments than when the run first executed it');
    }
  }

  private replay<T>(recorded: StoredStepRow): T {
    if (recorded.status === 'FAILED' && recorded.error) throw rehydrateStepError(recorded.error);
    return this.deps.serializer.decode<T>(recorded.output);
  }

  /**
   * This strand is the last one that could progress and must wait: park the run until `due` in one
   * fenced write (lease released, worker slot freed). The promise never settles: the run resumes
   * by replay in whichever worker claims it next.
   */
  private async parkNow(due: Date, what: string, write: () => Promise<boolean>): Promise<never> {
    this.fibers.startParking();
    const parked = await this.write(what, write);
    if (!parked) this.loseLease(`the run was cancelled or claimed by another worker before ${what}`);
    this.finish({ kind: 'suspended', wakeAt: due });
    return this.never();
  }

  /** Every strand is blocked (branches asleep or backing off): park until the earliest wake-up. */
  private parkWhenIdle(due: Date): void {
    void (async () => {
      const parked = await this.write('parking the run', () => this.deps.repository.parkRun(this.lease, due));
      if (!parked) this.loseLease('the run was cancelled or claimed by another worker before it could be parked');
      this.finish({ kind: 'suspended', wakeAt: due });
    })().catch(() => undefined); // a refused write has already stopped the run
  }

  private async commit<T>(
    scope: RunScope,
    key: string,
    name: string,
    argsHash: string,
    startedAt: Date,
    attempt: number,
    result: { status: 'COMPLETED'; text: string } | { status: 'FAILED'; error: StepError },
  ): Promise<T> {
    const outcome = await this.write(`recording step "${name}" (${key})`, () =>
      this.deps.repository.commitStep(this.lease, {
        key,
        name,
        status: result.status,
        argsHash,
        output: result.status === 'COMPLETED' ? result.text : null,
        error: result.status === 'FAILED' ? serializeStepError(result.error) : null,
        startedAt,
        attempt,
        ...placement(scope),
      }),
    );
    if (outcome.kind === 'lost') this.loseLease(`its commit of step "${name}" (${key}) was refused`);
    this.throwIfStopped();
    if (outcome.kind === 'exists') return this.replay<T>(outcome.step);
    if (result.status === 'FAILED') throw result.error;
    // Hand back the stored form, not the live object, so the first run sees exactly what a replay will.
    return this.deps.serializer.decode<T>(JSON.parse(result.text));
  }

  /**
   * Runs one write for the run. A connection failure is retried in place, with back-off, for as long
   * as this worker holds the run (its heartbeat stops the run once the lease can no longer be
   * renewed; fencing makes a repeated write safe). A data error (the values were refused) fails the
   * run: the same write would be refused forever. Anything else stops the run here, and it resumes
   * wherever it is claimed once its lease expires.
   */
  async write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry++) {
      try {
        const result = await fn();
        if (retry > 0) this.deps.logger.log(`Run ${this.runId}: database reachable again, ${what} succeeded after ${retry} retries`);
        return result;
      } catch (err: unknown) {
        if (isDataError(err)) this.failUnstorable(what, err);
        let gone = this.notHeld();
        if (gone !== undefined || !isConnectionFailure(err)) {
          this.deps.logger.error(`Run ${this.runId}: database error while ${what}; stopping it here, it resumes when its lease expires: ${describeDatabaseError(err)}`);
          this.finish({ kind: 'lost', reason: `database error while ${what}` });
          throw new LeaseLostError(`Run ${this.runId} stopped: database error while ${what}`, { cause: err });
        }
        if (retry === 0) {
          this.deps.logger.warn(`Run ${this.runId}: database unreachable while ${what} (${describeDatabaseError(err)}); retrying while this worker holds the run`);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** retry, 1_000)));
        if ((gone = this.notHeld()) !== undefined) {
          this.deps.logger.warn(`Run ${this.runId}: gave up ${what} (${gone}); it resumes where it is claimed next`);
          this.finish({ kind: 'lost', reason: gone });
          throw new LeaseLostError(`Run ${this.runId} stopped: database unreachable while ${what}`, { cause: err });
        }
      }
    }
  }

  /** Why this worker no longer holds the run (lost, handed back, parked), or undefined while it does. */
  private notHeld(): string | undefined {
    if (this.abandoned !== undefined) return this.abandoned;
    const stop = this.stop;
    if (stop?.kind === 'lost') return stop.reason;
    return stop?.kind === 'suspended' ? 'the run was parked' : undefined;
  }

  /** The database refused the values of a write: fail the run with an error that says so, instead of trying forever. */
  private failUnstorable(what: string, err: unknown): never {
    const error = new PermanentError(`The database refused to store ${what}: ${describeDatabaseError(err)}`, {
      kind: ErrorKind.ValidationFailed,
      code: 'KAGZI_UNSTORABLE',
    });
    this.deps.logger.warn(`Run ${this.runId}: ${error.message}; failing the run`);
    this.finish({ kind: 'fatal', error });
    throw error;
  }

  /** Resolves after this turn of the event loop (see RunFibers.settle); a run being parked meanwhile starts nothing more. */
  private async endOfTurn(scope: RunScope): Promise<void> {
    await this.fibers.settle();
    this.throwIfStopped(scope);
    if (this.fibers.parking) await this.never();
  }

  /** This strand stops here for good: the run is being parked and resumes by replay wherever it is claimed next. */
  private never(): Promise<never> {
    return new Promise<never>(() => undefined);
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

  private loseLease(why: string): never {
    this.deps.logger.warn(`Run ${this.runId}: lease lost, stopping it locally: ${why}`);
    this.finish({ kind: 'lost', reason: why });
    throw new LeaseLostError(`Run ${this.runId} is no longer owned by this worker: ${why}`);
  }

  private finish(stop: ExecutionStop): void {
    if (this.stop) return;
    this.stop = stop;
    this.fibers.dispose();
    if (stop.kind !== 'suspended') this.controller.abort(stop.kind === 'fatal' ? stop.error : new LeaseLostError(stop.reason));
    this.resolveStop(stop);
  }
}

function placement(scope: RunScope): StepPlacement {
  return scope.group === undefined ? {} : { group: scope.group, branch: scope.branch };
}

/** Every concurrent step attempt and child group listens to its parent's signal: no listener cap. */
export function unlimitedListeners(controller: AbortController): AbortController {
  setMaxListeners(0, controller.signal);
  return controller;
}
