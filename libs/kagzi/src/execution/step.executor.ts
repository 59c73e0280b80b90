import { withTimeout } from '../common/timeout';
import { ErrorKind } from '../errors/error-kind';
import { SerializedStepError, StepError, TransientError } from '../errors/step.error';
import { WorkflowCancelledError } from '../errors/workflow-cancelled.error';
import { rehydrateStepError, serializeStepError } from '../errors/step-error.serializer';
import { StoredStepRow } from '../persistence/run.rows';
import { hashArguments, unstorableValueError } from './payload.serializer';
import { RunScope, runScopeStorage } from './run-scope.storage';
import { StepDefinition } from './step-definition';
import { RunHost } from './run-host';
import { AttemptSpan, attemptSpan } from '../tracing/step.trace';
import { recordAttempt } from '../metrics/run.metrics';
import { StepTransaction } from '../persistence/step-transactions';
import { beginStepTransaction, commitInTransaction, TransactionalOutcome } from './transactional-step';

interface FailedAttempt {
  key: string;
  name: string;
  argsHash: string;
  error: SerializedStepError;
  attempt: number;
  startedAt: Date;
  nextAttemptAt: Date;
}

type Attempted<T> = { done: true; value: T } | { done: false; firstStartedAt: Date };

/** What a step call needs of the run it belongs to (RunExecution). */
export type StepHost = Pick<RunHost, 'runId' | 'workflowName' | 'version' | 'lease' | 'fibers' | 'signalOf' | 'cancelPoint' | 'runs' | 'serializer' | 'defaultRetry' | 'logger' | 'nextKey' | 'recorded' | 'throwIfStopped' | 'toStepError' | 'write' | 'waitUntil' | 'endOfTurn' | 'parkNow' | 'never' | 'placement' | 'loseLease' | 'failNonDeterministic' | 'replaying' | 'reachFrontier' | 'transactions'>;

/**
 * One `@Step` call inside a run: replayed from its record, or executed attempt after attempt until
 * its outcome (result, failure, or a retry to wait for) is recorded under the run's lease.
 */
export class StepExecutor {
  constructor(private readonly run: StepHost) {}

  async call<T>(scope: RunScope, def: StepDefinition, body: () => unknown, args: readonly unknown[]): Promise<T> {
    const run = this.run;
    // The key is taken before the first await, so concurrent calls get keys in call order.
    const key = run.nextKey(scope.path, def.keyName ?? def.name);
    run.throwIfStopped(scope);
    if (run.fibers.parking) return run.never();
    const argsHash = hashArguments(args, def.name);
    const recorded = run.recorded(key);
    let attempt = 1;
    // The retry budget (maxElapsed) counts from the first attempt's start, recorded with the step.
    let firstStartedAt = recorded?.started_at;
    if (recorded) {
      this.checkRecorded(key, def.name, argsHash, recorded);
      if (recorded.status !== 'RUNNING') return this.replay<T>(recorded);
      await run.cancelPoint(scope);
      // Waiting for a retry: the count goes on; a run woken early (handed back) waits again.
      attempt = recorded.attempts + 1;
      const nextAt = recorded.next_attempt_at;
      if (nextAt && nextAt.getTime() > Date.now()) await run.waitUntil(scope, nextAt, `waiting for attempt ${attempt} of step "${def.name}"`);
    }
    // A replay executes nothing: a step without an outcome in the history is where its records end.
    if (run.replaying) run.reachFrontier(`step "${def.name}" (${key})`);
    for (;; attempt++) {
      const outcome = await this.attempt<T>(scope, def, key, argsHash, body, attempt, firstStartedAt);
      if (outcome.done) return outcome.value;
      firstStartedAt = outcome.firstStartedAt;
    }
  }

  /** One execution of the body and its durable outcome: done (completed or failed for good), or retried. */
  private async attempt<T>(
    scope: RunScope, def: StepDefinition, key: string, argsHash: string, body: () => unknown, attempt: number, firstStartedAt: Date | undefined,
  ): Promise<Attempted<T>> {
    const run = this.run;
    await run.cancelPoint(scope);
    if (run.fibers.parking) return run.never();
    // From here until its outcome is recorded, this attempt keeps the run from being parked.
    const executing = run.fibers.stepStarted();
    const startedAt = new Date();
    const began = performance.now();
    const span = attemptSpan(run.lease, def.name, key, attempt);
    const controller = new AbortController();
    // A branch's signal already follows the run's (and its cancel), so one listener suffices.
    const parent = run.signalOf(scope);
    let cancelled!: (error: unknown) => void;
    // A cancel rejects the await at once; the body, told by its signal, is left to end on its own.
    const cancel = new Promise<never>((_, reject) => (cancelled = reject));
    const abortAttempt = (): void => {
      controller.abort(parent.reason);
      if (parent.reason instanceof WorkflowCancelledError) cancelled(parent.reason);
    };
    parent.addEventListener('abort', abortAttempt, { once: true });
    const place = { scope, key, name: def.name, argsHash, startedAt, attempt };
    let tx: StepTransaction | undefined;
    const body$ = { ended: false };
    try {
      let value: unknown;
      let transactional: TransactionalOutcome | undefined;
      try {
        if (def.transactional) tx = await beginStepTransaction(run, def.transactional.isolation);
        value = await Promise.race([this.invoke(scope, def, key, body, controller, attempt, span, tx, body$), cancel]);
        if (tx) transactional = await commitInTransaction(run, place, tx, value);
      } catch (err: unknown) {
        // The body's writes are rolled back. A body still running (a timeout, a cancel) may be waiting in
        // the database, and its rollback queues behind that query: not awaited then, the attempt ends now.
        const rollback = tx?.release().catch(() => undefined);
        if (body$.ended) await rollback;
        run.throwIfStopped(scope);
        // Cancelled (or its body failed once the cancel was known): nothing of this attempt is recorded.
        await run.cancelPoint(scope);
        const error = run.toStepError(err, { stepName: def.name, attempt });
        const policy = def.retry ?? run.defaultRetry;
        const delayMs = policy.delayBefore(attempt + 1, error.retryAfterMs);
        const nextAttemptAt = new Date(Date.now() + delayMs);
        const first = firstStartedAt ?? startedAt;
        const retrying = policy.shouldRetry(error) && policy.allowsAttemptAt(nextAttemptAt, first);
        span.failed(error, retrying ? delayMs : undefined);
        recordAttempt(run, def.name, retrying ? 'retried' : 'failed', began, error.kind);
        if (!retrying) {
          return { done: true, value: await this.commit<T>(place, { status: 'FAILED', error }) };
        }
        run.logger.warn(
          `Run ${run.runId}: step "${def.name}" (${key}) attempt ${attempt} failed [${error.kind}] ${error.message}; retrying at ${nextAttemptAt.toISOString()}`,
          key,
        );
        span.end(); // the back-off is not part of the attempt
        await this.retryLater(scope, { key, name: def.name, argsHash, error: serializeStepError(error), attempt, startedAt, nextAttemptAt }, executing);
        return { done: false, firstStartedAt: first };
      }
      if (transactional) {
        recordAttempt(run, def.name, 'completed', began);
        return { done: true, value: transactional.kind === 'committed' ? run.serializer.decode<T>(JSON.parse(transactional.text)) : this.replay<T>(transactional.step) };
      }
      run.throwIfStopped(scope);
      await run.cancelPoint(scope);
      let text: string;
      try {
        text = run.serializer.encode(value, `output of step "${def.name}"`).text;
      } catch (err: unknown) {
        const error = unstorableValueError(err, def.name, attempt);
        recordAttempt(run, def.name, 'failed', began, error.kind);
        return { done: true, value: await this.commit<T>(place, { status: 'FAILED', error }) };
      }
      recordAttempt(run, def.name, 'completed', began);
      return { done: true, value: await this.commit<T>(place, { status: 'COMPLETED', text }) };
    } finally {
      void tx?.release().catch(() => undefined); // a cancelled attempt's transaction: rolled back, whatever its body still does
      parent.removeEventListener('abort', abortAttempt);
      executing();
      span.end();
    }
  }

  /**
   * Records the failed attempt, then waits for the next one: parked if nothing else can progress,
   * else in process. `executing` ends the attempt's hold on the run once its failure is recorded.
   */
  private async retryLater(scope: RunScope, step: FailedAttempt, executing: () => void): Promise<void> {
    const run = this.run;
    const what = `recording attempt ${step.attempt} of step "${step.name}"`;
    const placed = { ...step, ...run.placement(scope) };
    await run.endOfTurn(scope);
    if (run.fibers.canPark(1)) {
      const due = run.fibers.earliest(step.nextAttemptAt);
      return run.parkNow(due, what, () => run.runs.scheduleRetry(run.lease, placed, due));
    }
    const recorded = await run.write(what, () => run.runs.scheduleRetry(run.lease, placed));
    if (!recorded) run.loseLease(`its record of attempt ${step.attempt} of step "${step.name}" was refused`);
    executing();
    await run.fibers.block(step.nextAttemptAt, run.signalOf(scope));
  }

  /** Runs the body in the step's scope; with a timeout, the attempt fails (and its signal aborts) when it expires. */
  private invoke(
    scope: RunScope, def: StepDefinition, key: string, body: () => unknown, controller: AbortController, attempt: number, span: AttemptSpan,
    tx: StepTransaction | undefined, body$: { ended: boolean },
  ): Promise<unknown> {
    const run = this.run;
    const step = { runId: run.runId, workflowName: run.workflowName, version: run.version, stepKey: key, stepName: def.name, attempt };
    const inStep = { ...scope, inStep: true, attemptSignal: controller.signal, step, transaction: tx?.manager };
    const bodyEnded = run.fibers.bodyStarted();
    // A body that throws at once rejects, as one that throws later does: either way its end is counted.
    const running = new Promise<unknown>((resolve) => resolve(span.run(() => runScopeStorage.run(inStep, body))));
    const ended = (): void => {
      body$.ended = true;
      bodyEnded();
    };
    running.then(ended, ended);
    const timeoutMs = def.timeoutMs;
    if (timeoutMs === undefined) return running;
    return withTimeout(running, timeoutMs, () => {
      const error = new TransientError(`Step "${def.name}" attempt ${attempt} timed out after ${timeoutMs} ms`, { kind: ErrorKind.Timeout, code: 'KAGZI_STEP_TIMEOUT' });
      controller.abort(error);
      return error;
    });
  }

  private checkRecorded(key: string, name: string, argsHash: string, recorded: StoredStepRow): void {
    if (recorded.kind !== 'STEP') this.run.failNonDeterministic(key, name, `a ${recorded.kind === 'SLEEP' ? 'durable sleep' : 'parallel group'} was recorded there`);
    if (recorded.step_name !== name) this.run.failNonDeterministic(key, name, `a call of "${recorded.step_name}" was recorded there`);
    if (recorded.args_hash !== null && recorded.args_hash !== argsHash) {
      this.run.failNonDeterministic(key, name, 'it was called with different arguments than when the run first executed it');
    }
  }

  private replay<T>(recorded: StoredStepRow): T {
    if (recorded.status === 'FAILED' && recorded.error) throw rehydrateStepError(recorded.error);
    return this.run.serializer.decode<T>(recorded.output);
  }

  private async commit<T>(
    at: { scope: RunScope; key: string; name: string; argsHash: string; startedAt: Date; attempt: number },
    result: { status: 'COMPLETED'; text: string } | { status: 'FAILED'; error: StepError },
  ): Promise<T> {
    const run = this.run;
    const outcome = await run.write(`recording step "${at.name}" (${at.key})`, () =>
      run.runs.commitStep(run.lease, {
        key: at.key,
        name: at.name,
        status: result.status,
        argsHash: at.argsHash,
        output: result.status === 'COMPLETED' ? result.text : null,
        error: result.status === 'FAILED' ? serializeStepError(result.error) : null,
        startedAt: at.startedAt,
        attempt: at.attempt,
        ...run.placement(at.scope),
      }),
    );
    if (outcome.kind === 'lost') run.loseLease(`its commit of step "${at.name}" (${at.key}) was refused`);
    run.throwIfStopped();
    if (outcome.kind === 'exists') return this.replay<T>(outcome.step);
    if (result.status === 'FAILED') throw result.error;
    // Hand back the stored form, not the live object, so the first run sees exactly what a replay will.
    return run.serializer.decode<T>(JSON.parse(result.text));
  }
}
