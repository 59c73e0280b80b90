/**
 * Structured errors and durable retries, against real PostgreSQL: exact attempt counts, back-off that
 * parks the run and frees the worker slot, back-off that survives a restart, step timeouts, retryOn
 * forms, the module's defaultRetry and classifyError hook, and the error a caller gets back.
 * Also: errors the database could not store as thrown (NUL, BigInt, cycles), secrets in thrown
 * HTTP client failures, the class names a caller matches on, and payloads nested too deep.
 *
 * The workflows and steps are in test/fixtures/retry-fixtures.ts. Every step body records what it did
 * in `effects`, so "ran 3 times" is counted.
 */
import { ErrorKind, PermanentError, RetryPolicy, RunDetails, SerializedStepError, StepError, TransientError, UnserializableValueError, WorkflowFailedError, WorkflowHandle } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, rejectionOf, sql, waitFor, waitForStatus } from './support/app';
import {
  DECLINED,
  DeepWorkflow,
  effects,
  HostileSteps,
  HostileWorkflow,
  InvalidCouponError,
  ModuleScenario,
  ModuleScenarioWorkflow,
  ModuleSteps,
  NamesWorkflow,
  nestedValue,
  QuotaExceededError,
  RestartSteps,
  RestartWorkflow,
  RetrySteps,
  Scenario,
  ScenarioOutput,
  ScenarioWorkflow,
  SECRET,
  SlotAWorkflow,
  SlotBWorkflow,
  SlotSteps,
  StoredErrorSteps,
  StoredScenario,
  StoredScenarioWorkflow,
  UnstorableContextWorkflow,
} from './fixtures/retry-fixtures';

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('retries');
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

/** The WorkflowFailedError a run ends with (fails the test if it completes). */
async function failureOf(handle: WorkflowHandle<unknown>): Promise<WorkflowFailedError> {
  const err = await rejectionOf(handle.result({ timeout: '15s' }));
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

function stepOf(run: RunDetails, name: string): RunDetails['steps'][number] {
  const step = run.steps.find((s) => s.name === name);
  if (!step) throw new Error(`run ${run.runId} has no step ${name}; it has ${run.steps.map((s) => s.name).join(', ')}`);
  return step;
}

interface AttemptRow {
  attempt: number;
  started_at: Date;
  finished_at: Date | null;
  error: SerializedStepError | null;
}

function attemptRows(runId: string, stepKey: string): Promise<AttemptRow[]> {
  return sql<AttemptRow & Record<string, unknown>>(
    db.url,
    'select attempt, started_at, finished_at, error from kagzi.step_attempts where workflow_run_id = $1 and step_key = $2 order by attempt',
    [runId, stepKey],
  );
}

// ---------------------------------------------------------------------------------------------------
// The default app: attempt counts, which errors are retried, retryAfter, timeouts, HttpException
// ---------------------------------------------------------------------------------------------------

describe('retries in a worker with default module options', () => {
  let kagzi: KagziTestApp;
  const start = (id: string, scenario: Scenario): Promise<WorkflowHandle<ScenarioOutput>> => kagzi.client.start(ScenarioWorkflow, { id, scenario });

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: [RetrySteps, ScenarioWorkflow] });
  });

  afterAll(() => kagzi?.close());

  describe('a step that always fails with a TransientError under fixed({ maxAttempts: 3 })', () => {
    let handle: WorkflowHandle<ScenarioOutput>;
    let failure: WorkflowFailedError;

    beforeAll(async () => {
      handle = await start('always-1', 'alwaysTransient');
      failure = await failureOf(handle);
    });

    it('runs exactly 3 times, 50 ms or more apart, and the run fails', async () => {
      expect(effects.count('Retry.alwaysTransient', 'always-1')).toBe(3);
      expect(effects.count('Retry.prepare', 'always-1')).toBe(1);
      expect(await handle.status()).toBe('FAILED');
      const starts = effects.startedAt('Retry.alwaysTransient', 'always-1');
      const throws = effects.failedAt('Retry.alwaysTransient', 'always-1');
      for (let i = 1; i < starts.length; i++) expect(starts[i] - throws[i - 1]).toBeGreaterThanOrEqual(50);
    });

    it("gives the caller the step's error rehydrated: class, kind, message, code, step name", () => {
      expect(failure.runId).toBe(handle.runId);
      const e = failure.error;
      expect(e).toBeInstanceOf(StepError);
      expect(e).toBeInstanceOf(TransientError);
      expect(e.name).toBe('TransientError');
      expect(e.kind).toBe(ErrorKind.ServiceUnavailable);
      expect(e.message).toBe('gateway busy (call 3)');
      expect(e.code).toBe('GW_BUSY');
      expect(e.retryable).toBe(true);
      expect(e.context).toEqual({ id: 'always-1', call: 3 });
      expect(e.stepName).toBe('Retry.alwaysTransient');
      expect(e.occurredAt).toBeInstanceOf(Date);
      expect(failure.message).toContain('SERVICE_UNAVAILABLE');
    });

    it('getRun shows the step FAILED with its 3 attempts, each carrying its own error', async () => {
      const run = await kagzi.client.getRun(handle.runId);
      expect(run.status).toBe('FAILED');
      const step = stepOf(run, 'Retry.alwaysTransient');
      expect(step.status).toBe('FAILED');
      expect(step.error).toMatchObject({ kind: 'SERVICE_UNAVAILABLE', message: 'gateway busy (call 3)', code: 'GW_BUSY', attempt: 3 });
      expect(step.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      step.attempts.forEach((a, i) => {
        expect(a.startedAt).toBeInstanceOf(Date);
        expect(a.finishedAt).toBeInstanceOf(Date);
        expect(a.error).toMatchObject({
          name: 'TransientError',
          kind: 'SERVICE_UNAVAILABLE',
          message: `gateway busy (call ${i + 1})`,
          code: 'GW_BUSY',
          attempt: i + 1,
          stepName: 'Retry.alwaysTransient',
        });
      });
      expect(stepOf(run, 'Retry.prepare').attempts).toHaveLength(1);
      const [row] = await sql<{ status: string; attempts: number; next_attempt_at: Date | null }>(
        db.url,
        'select status, attempts, next_attempt_at from kagzi.step_runs where workflow_run_id = $1 and step_name = $2',
        [handle.runId, 'Retry.alwaysTransient'],
      );
      expect(row).toEqual({ status: 'FAILED', attempts: 3, next_attempt_at: null });
    });

    it('the failure the caller sees (and the run error getRun shows) says attempt 3', async () => {
      const run = await kagzi.client.getRun(handle.runId);
      expect(run.error).toMatchObject({ kind: 'SERVICE_UNAVAILABLE', message: 'gateway busy (call 3)', code: 'GW_BUSY', stepName: 'Retry.alwaysTransient' });
      expect(run.error?.attempt).toBe(3);
      expect(failure.error.attempt).toBe(3);
    });
  });

  it('2: a step failing twice then succeeding completes; its body ran 3 times, the earlier step once', async () => {
    const handle = await start('flaky-2', 'flakyTwice');
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({ prepared: 'prepared-flaky-2', value: 'charged-flaky-2-on-call-3' });
    expect(effects.count('Retry.flakyTwice', 'flaky-2')).toBe(3);
    expect(effects.count('Retry.prepare', 'flaky-2')).toBe(1);

    const run = await kagzi.client.getRun(handle.runId);
    expect(run.status).toBe('COMPLETED');
    const step = stepOf(run, 'Retry.flakyTwice');
    expect(step.status).toBe('COMPLETED');
    expect(step.output).toBe('charged-flaky-2-on-call-3');
    expect(step.error).toBeUndefined();
    expect(step.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(step.attempts.map((a) => a.error?.kind)).toEqual(['NETWORK_ERROR', 'NETWORK_ERROR', undefined]);
    expect(step.attempts[0].error).toMatchObject({ message: 'read ECONNRESET (call 1)', code: 'ECONNRESET', attempt: 1, retryable: true });
    expect(step.attempts[1].error).toMatchObject({ message: 'read ECONNRESET (call 2)', attempt: 2 });
    for (const a of step.attempts) expect(a.finishedAt).toBeInstanceOf(Date);
    const prepare = stepOf(run, 'Retry.prepare');
    expect(prepare.attempts).toHaveLength(1);
    expect(prepare.attempts[0].error).toBeUndefined();
  });

  describe('which errors are retried', () => {
    it("a PermanentError is never retried under retryOn 'retryable'", async () => {
      const failure = await failureOf(await start('perm-3a', 'permanent'));
      expect(effects.count('Retry.permanent', 'perm-3a')).toBe(1);
      expect(failure.error).toBeInstanceOf(PermanentError);
      expect(failure.error).toMatchObject({ kind: ErrorKind.BusinessLogicError, message: 'card declined', code: 'DECLINED', retryable: false, context: { id: 'perm-3a' } });
    });

    it('a Nest HttpException(400) is INVALID_INPUT and never retried', async () => {
      const handle = await start('http400-3b', 'http400');
      const failure = await failureOf(handle);
      expect(effects.count('Retry.http400', 'http400-3b')).toBe(1);
      expect(failure.error).toBeInstanceOf(StepError);
      expect(failure.error).toMatchObject({ kind: ErrorKind.InvalidInput, message: 'amount must be positive', retryable: false });
      const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.http400');
      expect(step.attempts).toHaveLength(1);
    });

    it("retryOn 'any' retries a non-retryable kind (NOT_FOUND) ...", async () => {
      const handle = await start('any-3c', 'anyPlain');
      await expect(handle.result({ timeout: '15s' })).resolves.toEqual({ prepared: 'prepared-any-3c', value: 'found-any-3c' });
      expect(effects.count('Retry.anyPlain', 'any-3c')).toBe(3);
      const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.anyPlain');
      expect(step.attempts.map((a) => a.error?.kind)).toEqual(['NOT_FOUND', 'NOT_FOUND', undefined]);
    });

    it("... but not a PermanentError", async () => {
      const failure = await failureOf(await start('anyperm-3d', 'anyPermanent'));
      expect(effects.count('Retry.anyPermanent', 'anyperm-3d')).toBe(1);
      expect(failure.error).toBeInstanceOf(PermanentError);
      expect(failure.error.kind).toBe(ErrorKind.NotFound);
    });

    it('retryOn [RATE_LIMITED] retries a 429 ...', async () => {
      const handle = await start('rl-3e', 'rateLimited429');
      await expect(handle.result({ timeout: '15s' })).resolves.toEqual({ prepared: 'prepared-rl-3e', value: 'sent-rl-3e' });
      expect(effects.count('Retry.rateLimited429', 'rl-3e')).toBe(2);
      const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.rateLimited429');
      expect(step.attempts[0].error).toMatchObject({ kind: 'RATE_LIMITED', message: 'slow down' });
    });

    it('... but not a 503, retryable as it is', async () => {
      const failure = await failureOf(await start('rl-3f', 'rateLimited503'));
      expect(effects.count('Retry.rateLimited503', 'rl-3f')).toBe(1);
      expect(failure.error.kind).toBe(ErrorKind.ServiceUnavailable);
    });

    it('... nor an unclassified error (without a classifyError hook a custom class is UNKNOWN)', async () => {
      const failure = await failureOf(await start('quota-3g', 'quotaNoHook'));
      expect(effects.count('Retry.quotaNoHook', 'quota-3g')).toBe(1);
      expect(failure.error.kind).toBe(ErrorKind.Unknown);
      expect(failure.error.message).toBe('quota exceeded');
    });

    it('a retryOn predicate decides from the StepError, up to maxAttempts', async () => {
      const yes = await failureOf(await start('pred-3h-yes', 'predicate'));
      expect(effects.count('Retry.predicate', 'pred-3h-yes')).toBe(3);
      expect(yes.error).toMatchObject({ kind: ErrorKind.BusinessLogicError, code: 'RETRY_ME' });
      // consulted after attempts 1 and 2; attempt 3 is the last whatever it says
      expect(effects.predicateSaw.filter((p) => p.id === 'pred-3h-yes')).toEqual([
        { id: 'pred-3h-yes', attempt: 1, kind: ErrorKind.BusinessLogicError, code: 'RETRY_ME' },
        { id: 'pred-3h-yes', attempt: 2, kind: ErrorKind.BusinessLogicError, code: 'RETRY_ME' },
      ]);

      const no = await failureOf(await start('pred-3h-no', 'predicate'));
      expect(effects.count('Retry.predicate', 'pred-3h-no')).toBe(1);
      expect(no.error.code).toBe('LEAVE_ME');
    });
  });

  it("4: an error's retryAfter (300 ms) overrides the policy's 10 ms interval", async () => {
    const handle = await start('ra-4', 'retryAfter');
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({ prepared: 'prepared-ra-4', value: 'ok-ra-4' });
    expect(effects.count('Retry.retryAfter', 'ra-4')).toBe(2);
    // measured in the step body: from the throw to the next attempt's start
    const waited = effects.startedAt('Retry.retryAfter', 'ra-4')[1] - effects.failedAt('Retry.retryAfter', 'ra-4')[0];
    expect(waited).toBeGreaterThanOrEqual(300);

    const rows = await attemptRows(handle.runId, 'Retry.retryAfter#1');
    expect(rows.map((r) => r.attempt)).toEqual([1, 2]);
    expect(rows[0].error).toMatchObject({ kind: 'RATE_LIMITED', retryAfterMs: 300, attempt: 1 });
    expect(rows[1].error).toBeNull();
    // the same in the table; the attempt's finished_at is stamped by the write, a few ms after the throw
    expect(rows[1].started_at.getTime() - rows[0].finished_at!.getTime()).toBeGreaterThanOrEqual(290);

    // control: the same failure without retryAfter comes back after the policy's 10 ms
    const control = await start('ra-4-control', 'noRetryAfter');
    await control.result({ timeout: '15s' });
    const [first, second] = await attemptRows(control.runId, 'Retry.noRetryAfter#1');
    expect(second.started_at.getTime() - first.finished_at!.getTime()).toBeLessThan(300);
  });

  describe('step timeout', () => {
    it('aborts the attempt signal, records TIMEOUT, retries, and fails with TIMEOUT when every attempt hangs', async () => {
      const handle = await start('to-7a', 'hangs');
      const failure = await failureOf(handle);
      expect(effects.count('Retry.hangs', 'to-7a')).toBe(2);
      const signals = effects.signalsOf('Retry.hangs', 'to-7a');
      expect(signals).toHaveLength(2);
      for (const s of signals) {
        expect(s.aborted).toBe(true);
        expect(s.reason).toBeInstanceOf(StepError);
        expect((s.reason as StepError).kind).toBe(ErrorKind.Timeout);
      }
      expect(signals[0]).not.toBe(signals[1]); // a fresh signal per attempt
      expect(failure.error).toMatchObject({ kind: ErrorKind.Timeout, code: 'KAGZI_STEP_TIMEOUT', retryable: true });
      expect(failure.error.message).toMatch(/timed out after 100 ms/);

      const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.hangs');
      expect(step.status).toBe('FAILED');
      expect(step.attempts.map((a) => [a.attempt, a.error?.kind])).toEqual([
        [1, 'TIMEOUT'],
        [2, 'TIMEOUT'],
      ]);
      for (const a of step.attempts) {
        const ms = a.finishedAt!.getTime() - a.startedAt.getTime();
        expect(ms).toBeGreaterThanOrEqual(95);
        expect(ms).toBeLessThan(2_000);
      }
    });

    it('times out a body that ignores its signal, and the retry succeeds', async () => {
      const handle = await start('to-7b', 'hangsOnce');
      await expect(handle.result({ timeout: '15s' })).resolves.toEqual({ prepared: 'prepared-to-7b', value: 'answered-to-7b-on-call-2' });
      expect(effects.count('Retry.hangsOnce', 'to-7b')).toBe(2);
      const [first, second] = effects.signalsOf('Retry.hangsOnce', 'to-7b');
      expect(first.aborted).toBe(true);
      expect(second.aborted).toBe(false);
      const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.hangsOnce');
      expect(step.attempts.map((a) => a.error?.kind)).toEqual(['TIMEOUT', undefined]);
    });
  });

  it('9: a Nest ServiceUnavailableException is SERVICE_UNAVAILABLE, retried, and rehydrated at the caller', async () => {
    const handle = await start('http503-9', 'http503');
    const failure = await failureOf(handle);
    expect(effects.count('Retry.http503', 'http503-9')).toBe(2);
    expect(failure.error).toBeInstanceOf(StepError);
    expect(failure.error).toMatchObject({ kind: ErrorKind.ServiceUnavailable, message: 'payments are down', retryable: true, stepName: 'Retry.http503' });
    const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.http503');
    expect(step.attempts.map((a) => [a.attempt, a.error?.kind, a.error?.message])).toEqual([
      [1, 'SERVICE_UNAVAILABLE', 'payments are down'],
      [2, 'SERVICE_UNAVAILABLE', 'payments are down'],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Back-off frees the worker slot
// ---------------------------------------------------------------------------------------------------

describe('a run waiting for its next attempt frees its worker slot', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: [SlotSteps, SlotAWorkflow, SlotBWorkflow], worker: { concurrency: 1 } });
  });

  afterAll(() => kagzi?.close());

  it('run B completes during run A’s 1 s back-off, while A is SLEEPING', async () => {
    const a = await kagzi.client.start(SlotAWorkflow, { id: 'slot-a' });
    await waitFor('A’s first attempt to fail', () => effects.failedAt('Slot.slowRetry', 'slot-a').length === 1);
    await waitForStatus(a, 'SLEEPING', 2_000);
    const [parked] = await sql<{ status: string; lease_owner: string | null; due_at: Date }>(
      db.url,
      'select status, lease_owner, due_at from kagzi.workflow_runs where id = $1',
      [a.runId],
    );
    expect(parked.status).toBe('SLEEPING');
    expect(parked.lease_owner).toBeNull();
    expect(parked.due_at.getTime()).toBeGreaterThan(Date.now() + 300);

    const b = await kagzi.client.start(SlotBWorkflow, { id: 'slot-b' });
    await expect(b.result({ timeout: '5s' })).resolves.toBe('B-done');
    const bDoneAt = Date.now();
    expect(effects.count('Slot.slowRetry', 'slot-a')).toBe(1); // A's second attempt has not started
    expect(await a.status()).toBe('SLEEPING');

    await expect(a.result({ timeout: '10s' })).resolves.toBe('A-done-on-call-2');
    expect(effects.startedAt('Slot.slowRetry', 'slot-a')[1]).toBeGreaterThan(bDoneAt);
    expect(effects.startedAt('Slot.slowRetry', 'slot-a')[1] - effects.failedAt('Slot.slowRetry', 'slot-a')[0]).toBeGreaterThanOrEqual(1_000);
  });
});

// ---------------------------------------------------------------------------------------------------
// The back-off survives a restart
// ---------------------------------------------------------------------------------------------------

describe('durable back-off across a restart', () => {
  it('keeps the attempt count and the wait: attempts 1, 2, 3 across two processes, then the run fails', async () => {
    const first = await bootKagzi({ url: db.url, providers: [RestartSteps, RestartWorkflow] });
    const handle = await first.client.start(RestartWorkflow, { id: 'restart-6' });
    await waitFor('attempt 1 to be recorded', async () => (await attemptRows(handle.runId, 'Restart.unreliable#1')).length === 1);
    await first.close(); // during the 1 s back-off

    const [step] = await sql<{ status: string; attempts: number; next_attempt_at: Date }>(
      db.url,
      'select status, attempts, next_attempt_at from kagzi.step_runs where workflow_run_id = $1 and step_key = $2',
      [handle.runId, 'Restart.unreliable#1'],
    );
    const [run] = await sql<{ status: string; due_at: Date; lease_owner: string | null }>(db.url, 'select status, due_at, lease_owner from kagzi.workflow_runs where id = $1', [
      handle.runId,
    ]);
    expect(step.status).toBe('RUNNING');
    expect(step.attempts).toBe(1);
    expect(run.status).toBe('SLEEPING');
    expect(run.lease_owner).toBeNull();
    expect(run.due_at.getTime()).toBe(step.next_attempt_at.getTime());
    expect(step.next_attempt_at.getTime()).toBeGreaterThan(Date.now());
    expect(effects.count('Restart.unreliable', 'restart-6')).toBe(1);

    const second = await bootKagzi({ url: db.url, providers: [RestartSteps, RestartWorkflow] });
    try {
      const failure = await failureOf(second.client.getHandle(handle.runId));
      expect(effects.count('Restart.unreliable', 'restart-6')).toBe(3); // 1 before the restart + 2 after: not 1 + 3
      expect(effects.count('Restart.prepare', 'restart-6')).toBe(1);
      expect(failure.error).toMatchObject({ kind: ErrorKind.NetworkError, code: 'STILL', message: 'still failing (call 3)' });

      const rows = await attemptRows(handle.runId, 'Restart.unreliable#1');
      expect(rows.map((r) => [r.attempt, r.error?.attempt, r.error?.message])).toEqual([
        [1, 1, 'still failing (call 1)'],
        [2, 2, 'still failing (call 2)'],
        [3, 3, 'still failing (call 3)'],
      ]);
      // the wait was not lost: attempt 2 started no earlier than the due time written before the restart
      expect(rows[1].started_at.getTime()).toBeGreaterThanOrEqual(step.next_attempt_at.getTime());
      const details = await second.client.getRun(handle.runId);
      expect(stepOf(details, 'Restart.unreliable').attempts).toHaveLength(3);
      expect(stepOf(details, 'Restart.unreliable').status).toBe('FAILED');
    } finally {
      await second.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Module defaultRetry and classifyError
// ---------------------------------------------------------------------------------------------------

describe('module defaultRetry and classifyError', () => {
  let kagzi: KagziTestApp;
  const hookSaw: unknown[] = [];
  const start = (id: string, scenario: ModuleScenario): Promise<WorkflowHandle<string>> => kagzi.client.start(ModuleScenarioWorkflow, { id, scenario });

  beforeAll(async () => {
    kagzi = await bootKagzi({
      url: db.url,
      providers: [ModuleSteps, ModuleScenarioWorkflow],
      defaultRetry: RetryPolicy.fixed({ maxAttempts: 3, interval: '20ms' }),
      classifyError: (err) => {
        hookSaw.push(err);
        if (err instanceof QuotaExceededError) return ErrorKind.RateLimited;
        if (err instanceof InvalidCouponError) return ErrorKind.ValidationFailed;
        return undefined;
      },
    });
  });

  afterAll(() => kagzi?.close());

  it('defaultRetry applies to a step that names no policy', async () => {
    const failure = await failureOf(await start('default-8a', 'usesDefault'));
    expect(effects.count('Module.usesDefault', 'default-8a')).toBe(3);
    expect(failure.error).toMatchObject({ kind: ErrorKind.Unknown, message: 'plain failure (call 3)' });
  });

  it("a step's own policy wins over defaultRetry (none: 1 attempt; fixed 5: 5 attempts)", async () => {
    await failureOf(await start('own-8b', 'ownNone'));
    expect(effects.count('Module.ownNone', 'own-8b')).toBe(1);
    await failureOf(await start('own-8c', 'ownFive'));
    expect(effects.count('Module.ownFive', 'own-8c')).toBe(5);
  });

  it('the classifyError hook maps a custom error class to RATE_LIMITED, so retryOn [RATE_LIMITED] retries it', async () => {
    const handle = await start('quota-8d', 'quota');
    const failure = await failureOf(handle);
    expect(effects.count('Module.quota', 'quota-8d')).toBe(3);
    expect(failure.error).toMatchObject({ kind: ErrorKind.RateLimited, message: 'quota exceeded', retryable: true });
    expect(hookSaw.some((e) => e instanceof QuotaExceededError)).toBe(true);
    const step = stepOf(await kagzi.client.getRun(handle.runId), 'Module.quota');
    expect(step.attempts.map((a) => a.error?.kind)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('the hook can make an error permanent: VALIDATION_FAILED is not retried under the retryable default', async () => {
    const failure = await failureOf(await start('coupon-8e', 'coupon'));
    expect(effects.count('Module.coupon', 'coupon-8e')).toBe(1);
    expect(failure.error).toMatchObject({ kind: ErrorKind.ValidationFailed, message: 'coupon expired', retryable: false });
  });
});

// ---------------------------------------------------------------------------------------------------
// What is stored from an error, and payloads too deep to store
// ---------------------------------------------------------------------------------------------------

describe('what is stored from an error, and payloads too deep to store', () => {
  let kagzi: KagziTestApp;
  const start = (id: string, scenario: StoredScenario): Promise<WorkflowHandle<unknown>> => kagzi.client.start(StoredScenarioWorkflow, { id, scenario });
  const storedErrors = async (runId: string): Promise<string[]> => {
    const rows = await sql<{ error: string | null }>(
      db.url,
      `select error::text as error from kagzi.workflow_runs where id = $1
       union all select error::text from kagzi.step_runs where workflow_run_id = $1
       union all select error::text from kagzi.step_attempts where workflow_run_id = $1`,
      [runId],
    );
    return rows.map((r) => r.error).filter((e): e is string => e !== null);
  };

  beforeAll(async () => {
    kagzi = await bootKagzi({
      url: db.url,
      providers: [StoredErrorSteps, StoredScenarioWorkflow, UnstorableContextWorkflow, NamesWorkflow, DeepWorkflow],
    });
  });

  afterAll(() => kagzi?.close());

  describe('an error jsonb cannot store as thrown fails the run once, not forever', () => {
    it('a step throwing PermanentError with NUL in its message: ran once, run FAILED, getRun shows the error', async () => {
      const handle = await start('nul-10a', 'nulMessage');
      const failure = await failureOf(handle);
      expect(effects.count('Stored.nulMessage', 'nul-10a')).toBe(1);
      expect(effects.count('Stored.prepare', 'nul-10a')).toBe(1);
      expect(failure.error).toBeInstanceOf(PermanentError);
      expect(failure.error).toMatchObject({ message: 'bad \\u0000 byte', code: 'NUL_BYTE', context: { id: 'nul-10a', raw: 'a\\u0000b' } });

      const run = await kagzi.client.getRun(handle.runId);
      expect(run.status).toBe('FAILED');
      expect(run.error).toMatchObject({ name: 'PermanentError', message: 'bad \\u0000 byte', stepName: 'Stored.nulMessage' });
      const step = stepOf(run, 'Stored.nulMessage');
      expect(step.status).toBe('FAILED');
      expect(step.attempts).toHaveLength(1);
      expect(step.error).toMatchObject({ message: 'bad \\u0000 byte', code: 'NUL_BYTE' });
    });

    it('run() throwing PermanentError whose context holds a BigInt and a cycle: run() ran once, FAILED, context stored as JSON-safe data', async () => {
      const handle = await kagzi.client.start(UnstorableContextWorkflow, { id: 'ctx-10b' });
      const failure = await failureOf(handle);
      expect(effects.runEntries('Stored.UnstorableContext', 'ctx-10b')).toBe(1);
      expect(effects.count('Stored.prepare', 'ctx-10b')).toBe(1);
      const context = { order: { id: 'ctx-10b', cents: '1999', self: '[Circular]' }, total: '12345678901234567890', at: '2024-01-02T03:04:05.000Z' };
      expect(failure.error).toBeInstanceOf(PermanentError);
      expect(failure.error).toMatchObject({ message: 'settlement failed', code: 'SETTLE', context });

      const run = await kagzi.client.getRun(handle.runId);
      expect(run.status).toBe('FAILED');
      expect(run.error).toMatchObject({ name: 'PermanentError', message: 'settlement failed', context, stepName: 'Stored.UnstorableContext.run' });
    });
  });

  describe('secrets in errors are never stored', () => {
    it('an HTTP-client-shaped failure: described by status, classified INVALID_INPUT, ran once, no header or config stored', async () => {
      const handle = await start('http-11a', 'httpClientFailure');
      const failure = await failureOf(handle);
      expect(effects.count('Stored.httpClientFailure', 'http-11a')).toBe(1); // 400 is not retryable
      expect(failure.error).toMatchObject({ kind: ErrorKind.InvalidInput, retryable: false, message: 'Non-Error value thrown: object with status 400' });
      expect(failure.message).not.toContain(SECRET);

      const stored = await storedErrors(handle.runId);
      expect(stored.length).toBe(3); // the run, the step, the attempt
      for (const text of stored) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain('Bearer');
        expect(text).not.toContain('payments.example');
      }
      const run = await kagzi.client.getRun(handle.runId);
      expect(run.error).toMatchObject({ name: 'StepError', message: 'Non-Error value thrown: object with status 400', cause: { name: 'object' } });
    });

    it("secret fields of a PermanentError's context are redacted in every stored copy", async () => {
      const handle = await start('ctx-11b', 'secretContext');
      const failure = await failureOf(handle);
      expect(effects.count('Stored.secretContext', 'ctx-11b')).toBe(1);
      const redacted = { id: 'ctx-11b', apiKey: '[REDACTED]', request: '[REDACTED]', customer: { password: '[REDACTED]', email: 'a@example.com' } };
      expect(failure.error.context).toEqual(redacted);
      for (const text of await storedErrors(handle.runId)) expect(text).not.toContain(SECRET);
      expect((await kagzi.client.getRun(handle.runId)).error?.context).toEqual(redacted);
    });
  });

  describe("a StepError's name is the Kagzi class; the thrown class is cause.name", () => {
    it('a thrown Error subclass: the same names in retryOn, in the catch (first run and replay), at the caller and in getRun', async () => {
      const handle = await kagzi.client.start(NamesWorkflow, { id: 'names-12a', which: 'ledger' });
      const failure = await failureOf(handle);
      expect(effects.count('Stored.ledger', 'names-12a')).toBe(2);
      const expected = { name: 'StepError', causeName: 'LedgerUnavailableError', permanent: false };
      expect(effects.namesSeen.get('names-12a')).toEqual([
        { where: 'retryOn', ...expected },
        { where: 'catch', ...expected }, // first run: the live error
        { where: 'catch', ...expected }, // replay after the sleep: the stored error
      ]);
      expect(failure.error.name).toBe('StepError');
      expect((failure.error.cause as Error).name).toBe('LedgerUnavailableError');
      const run = await kagzi.client.getRun(handle.runId);
      expect(run.error).toMatchObject({ name: 'StepError', kagziClass: 'StepError', cause: { name: 'LedgerUnavailableError', message: 'ledger is down' } });
      for (const a of stepOf(run, 'Stored.ledger').attempts) expect(a.error?.cause?.name).toBe('LedgerUnavailableError');
    });

    it('a PermanentError subclass keeps its name and is a PermanentError in the catch after replay and at the caller', async () => {
      const handle = await kagzi.client.start(NamesWorkflow, { id: 'names-12b', which: 'declined' });
      const failure = await failureOf(handle);
      expect(effects.count('Stored.declined', 'names-12b')).toBe(1);
      const expected = { where: 'catch', name: 'CardDeclinedError', permanent: true };
      expect(effects.namesSeen.get('names-12b')).toEqual([expected, expected]);
      expect(failure.error).toBeInstanceOf(PermanentError);
      expect(failure.error).toMatchObject({ name: 'CardDeclinedError', code: 'DECLINED', retryable: false });
      expect((await kagzi.client.getRun(handle.runId)).error).toMatchObject({ name: 'CardDeclinedError', kagziClass: 'PermanentError' });
    });
  });

  describe('payloads nested deeper than 1,000 levels', () => {
    it('client.start rejects a 20,000-level input with UnserializableValueError, and no run is created', async () => {
      const err = await rejectionOf(kagzi.client.start(DeepWorkflow, nestedValue(20_000)));
      expect(err).toBeInstanceOf(UnserializableValueError);
      expect((err as Error).message).toMatch(/^Cannot store the input of workflow "Stored.Deep": \$\.next.* is nested deeper than 1000 levels/);
      const [row] = await sql<{ n: number }>(db.url, `select count(*)::int as n from kagzi.workflow_runs where workflow_name = 'Stored.Deep'`);
      expect(row.n).toBe(0);
    });

    it('1,000 levels go through input, step argument, step output and result', async () => {
      const value = nestedValue(1_000);
      const handle = await kagzi.client.start(DeepWorkflow, value);
      await expect(handle.result({ timeout: '15s' })).resolves.toEqual(value);
      expect(effects.count('Stored.echo', 'deep')).toBe(1);
    });

    it('a step returning 20,000 levels fails once with KAGZI_UNSERIALIZABLE_VALUE', async () => {
      const handle = await start('deep-13c', 'deepOutput');
      const failure = await failureOf(handle);
      expect(effects.count('Stored.deepOutput', 'deep-13c')).toBe(1);
      expect(failure.error).toMatchObject({ code: 'KAGZI_UNSERIALIZABLE_VALUE', kind: ErrorKind.ValidationFailed });
      expect(failure.error.message).toMatch(/is nested deeper than 1000 levels/);
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// Values and hooks that break error handling itself
// ---------------------------------------------------------------------------------------------------
describe('values and hooks that break error handling itself', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({
      url: db.url,
      providers: [HostileSteps, HostileWorkflow],
      // a buggy hook: plain Errors have no `response`
      classifyError: (err) => ((err as { response: { status: number } }).response.status >= 500 ? ErrorKind.ServiceUnavailable : undefined),
    });
  });

  afterAll(() => kagzi?.close());

  it('a classifyError hook that throws counts as no answer: the step fails once, classified by the built-in rules', async () => {
    const handle = await kagzi.client.start(HostileWorkflow, { id: 'hook-14a', scenario: 'hook' });
    const failure = await failureOf(handle);
    expect(failure.error).toMatchObject({ message: 'plain failure hook-14a', kind: ErrorKind.Unknown, stepName: 'Hostile.plain' });
    expect(effects.count('Hostile.plain', 'hook-14a')).toBe(1);
    expect(effects.runEntries('Hostile.Scenario', 'hook-14a')).toBe(1);
  });

  it('run() throwing a value that cannot be read fails the run once with an error that says so', async () => {
    const handle = await kagzi.client.start(HostileWorkflow, { id: 'proxy-14b', scenario: 'proxy' });
    const failure = await failureOf(handle);
    expect(failure.error.message).toMatch(/^A value was thrown that could not be read: trap$/);
    expect(effects.runEntries('Hostile.Scenario', 'proxy-14b')).toBe(1);
    const [run] = await sql<{ lease_epoch: number }>(db.url, 'select lease_epoch from kagzi.workflow_runs where id = $1', [handle.runId]);
    expect(run.lease_epoch).toBe(1);
  });

  it('a step throwing a frozen PermanentError: its failure is recorded, the catch sees the same error on replay, the body ran once', async () => {
    const handle = await kagzi.client.start(HostileWorkflow, { id: 'frozen-14c', scenario: 'frozen' });
    expect(await handle.result({ timeout: '10s' })).toBe('declined');
    expect(effects.count('Hostile.frozen', 'frozen-14c')).toBe(1);
    expect(effects.runEntries('Hostile.Scenario', 'frozen-14c')).toBe(2);
    expect(effects.frozenSeen.get('frozen-14c')).toEqual([
      { permanent: true, code: 'DECLINED', name: 'PermanentError' },
      { permanent: true, code: 'DECLINED', name: 'PermanentError' },
    ]);
    expect(Object.isFrozen(DECLINED) && DECLINED.stepName).toBe(''); // the shared constant itself is untouched
  });
});
