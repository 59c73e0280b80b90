/**
 * Structured errors and durable retries (SPEC "Errors and retries", §2.3), against real PostgreSQL:
 * exact attempt counts, back-off that parks the run and frees the worker slot, back-off that survives
 * a restart, step timeouts, retryOn forms, the module's defaultRetry and classifyError hook, and the
 * error a caller gets back. Every step body counts its executions, so "ran 3 times" is counted.
 * Also: errors the database could not store as thrown (NUL, BigInt, cycles), secrets in thrown
 * HTTP client failures, the class names a caller matches on, and payloads nested too deep.
 */
import { HttpException, Injectable, ServiceUnavailableException } from '@nestjs/common';
import {
  ErrorKind,
  PermanentError,
  RetryPolicy,
  RunDetails,
  SerializedStepError,
  Step,
  StepError,
  stepSignal,
  TransientError,
  UnserializableValueError,
  Workflow,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
  WorkflowHandle,
} from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, CallCounter, closeAllApps, KagziTestApp, rejectionOf, sql, waitFor, waitForStatus } from './support/app';

const calls = new CallCounter();
/** When each step body started, per step and subject (Date.now()). */
const startedAt = new Map<string, number[]>();
/** When each step body threw, per step and subject. */
const threwAt = new Map<string, number[]>();

function enter(step: string, id: string): number {
  const key = `${step}|${id}`;
  startedAt.set(key, [...(startedAt.get(key) ?? []), Date.now()]);
  return calls.bump(step, id);
}

function fail(step: string, id: string, error: unknown): never {
  const key = `${step}|${id}`;
  threwAt.set(key, [...(threwAt.get(key) ?? []), Date.now()]);
  throw error;
}

/** A user-defined error class the module's classifyError hook knows about. */
class QuotaExceededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuotaExceededError';
  }
}
class InvalidCouponError extends Error {}

interface ScenarioInput {
  id: string;
  scenario: Scenario;
}
interface ScenarioOutput {
  prepared: string;
  value: string;
}

// ---------------------------------------------------------------------------------------------------
// Fixtures for the default app: one step per behaviour, each with its own policy
// ---------------------------------------------------------------------------------------------------

const predicateSaw: Array<{ id: string; attempt: number; kind: ErrorKind; code?: string }> = [];
const timeoutSignals = new Map<string, AbortSignal[]>();

@Injectable()
class RetrySteps {
  @Step({ name: 'Retry.prepare' })
  async prepare(id: string): Promise<string> {
    enter('Retry.prepare', id);
    return `prepared-${id}`;
  }

  // 1: always transient, exactly 3 attempts
  @Step({ name: 'Retry.alwaysTransient', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '50ms' }) })
  async alwaysTransient(id: string): Promise<string> {
    const n = enter('Retry.alwaysTransient', id);
    return fail('Retry.alwaysTransient', id, new TransientError(`gateway busy (call ${n})`, { kind: ErrorKind.ServiceUnavailable, code: 'GW_BUSY', context: { id, call: n } }));
  }

  // 2: two network failures, then success
  @Step({ name: 'Retry.flakyTwice', retry: RetryPolicy.fixed({ maxAttempts: 5, interval: '50ms' }) })
  async flakyTwice(id: string): Promise<string> {
    const n = enter('Retry.flakyTwice', id);
    if (n <= 2) fail('Retry.flakyTwice', id, Object.assign(new Error(`read ECONNRESET (call ${n})`), { code: 'ECONNRESET', syscall: 'read' }));
    return `charged-${id}-on-call-${n}`;
  }

  // 3: never retried
  @Step({ name: 'Retry.permanent', retry: RetryPolicy.fixed({ maxAttempts: 5, interval: '10ms', retryOn: 'retryable' }) })
  async permanent(id: string): Promise<string> {
    enter('Retry.permanent', id);
    return fail('Retry.permanent', id, new PermanentError('card declined', { code: 'DECLINED', context: { id } }));
  }

  @Step({ name: 'Retry.http400', retry: RetryPolicy.fixed({ maxAttempts: 5, interval: '10ms', retryOn: 'retryable' }) })
  async http400(id: string): Promise<string> {
    enter('Retry.http400', id);
    return fail('Retry.http400', id, new HttpException('amount must be positive', 400));
  }

  @Step({ name: 'Retry.anyPlain', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '10ms', retryOn: 'any' }) })
  async anyPlain(id: string): Promise<string> {
    const n = enter('Retry.anyPlain', id);
    // NOT_FOUND: not retryable by kind, but 'any' retries it
    if (n < 3) fail('Retry.anyPlain', id, new HttpException('customer not found yet', 404));
    return `found-${id}`;
  }

  @Step({ name: 'Retry.anyPermanent', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '10ms', retryOn: 'any' }) })
  async anyPermanent(id: string): Promise<string> {
    enter('Retry.anyPermanent', id);
    return fail('Retry.anyPermanent', id, new PermanentError('account closed', { kind: ErrorKind.NotFound }));
  }

  @Step({ name: 'Retry.rateLimited429', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '10ms', retryOn: [ErrorKind.RateLimited] }) })
  async rateLimited429(id: string): Promise<string> {
    const n = enter('Retry.rateLimited429', id);
    if (n === 1) fail('Retry.rateLimited429', id, new HttpException('slow down', 429));
    return `sent-${id}`;
  }

  @Step({ name: 'Retry.rateLimited503', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '10ms', retryOn: [ErrorKind.RateLimited] }) })
  async rateLimited503(id: string): Promise<string> {
    enter('Retry.rateLimited503', id);
    return fail('Retry.rateLimited503', id, new HttpException('down', 503)); // retryable, but not listed
  }

  @Step({ name: 'Retry.quotaNoHook', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '10ms', retryOn: [ErrorKind.RateLimited] }) })
  async quotaNoHook(id: string): Promise<string> {
    enter('Retry.quotaNoHook', id);
    return fail('Retry.quotaNoHook', id, new QuotaExceededError('quota exceeded'));
  }

  @Step({
    name: 'Retry.predicate',
    retry: RetryPolicy.fixed({
      maxAttempts: 3,
      interval: '10ms',
      retryOn: (e) => {
        predicateSaw.push({ id: (e.context as { id: string }).id, attempt: e.attempt, kind: e.kind, code: e.code });
        return e.code === 'RETRY_ME';
      },
    }),
  })
  async predicate(id: string): Promise<string> {
    enter('Retry.predicate', id);
    // BUSINESS_LOGIC_ERROR is not retryable by kind: only the predicate can decide to retry it
    const code = id.endsWith('-yes') ? 'RETRY_ME' : 'LEAVE_ME';
    return fail('Retry.predicate', id, new StepError(`ledger says ${code}`, { kind: ErrorKind.BusinessLogicError, code, context: { id } }));
  }

  // 4: retryAfter beats the policy's interval
  @Step({ name: 'Retry.retryAfter', retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '10ms' }) })
  async retryAfter(id: string): Promise<string> {
    const n = enter('Retry.retryAfter', id);
    if (n === 1) fail('Retry.retryAfter', id, new TransientError('throttled', { kind: ErrorKind.RateLimited, retryAfter: '300ms' }));
    return `ok-${id}`;
  }

  @Step({ name: 'Retry.noRetryAfter', retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '10ms' }) })
  async noRetryAfter(id: string): Promise<string> {
    const n = enter('Retry.noRetryAfter', id);
    if (n === 1) fail('Retry.noRetryAfter', id, new TransientError('throttled', { kind: ErrorKind.RateLimited }));
    return `ok-${id}`;
  }

  // 7: timeouts
  @Step({ name: 'Retry.hangs', timeout: '100ms', retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '10ms' }) })
  async hangs(id: string): Promise<string> {
    enter('Retry.hangs', id);
    const signal = stepSignal();
    timeoutSignals.set(id, [...(timeoutSignals.get(id) ?? []), signal]);
    // cooperative: gives up when the attempt's signal fires
    return new Promise<string>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  }

  @Step({ name: 'Retry.hangsOnce', timeout: '100ms', retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '10ms' }) })
  async hangsOnce(id: string): Promise<string> {
    const n = enter('Retry.hangsOnce', id);
    const signal = stepSignal();
    timeoutSignals.set(id, [...(timeoutSignals.get(id) ?? []), signal]);
    if (n === 1) return new Promise<string>(() => undefined); // ignores its signal and never settles
    return `answered-${id}-on-call-${n}`;
  }

  // 9: a Nest HttpException from a step
  @Step({ name: 'Retry.http503', retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '10ms' }) })
  async http503(id: string): Promise<string> {
    enter('Retry.http503', id);
    return fail('Retry.http503', id, new ServiceUnavailableException('payments are down'));
  }
}

type Scenario = Exclude<keyof RetrySteps, 'prepare'>;

@Workflow({ name: 'Retry.Scenario' })
class ScenarioWorkflow implements WorkflowDefinition<ScenarioInput, ScenarioOutput> {
  constructor(private readonly steps: RetrySteps) {}

  async run(input: ScenarioInput): Promise<ScenarioOutput> {
    const prepared = await this.steps.prepare(input.id);
    const value = await this.steps[input.scenario](input.id);
    return { prepared, value };
  }
}

// ---------------------------------------------------------------------------------------------------
// Fixtures for the slot test (concurrency 1) and the restart test
// ---------------------------------------------------------------------------------------------------

@Injectable()
class SlotSteps {
  @Step({ name: 'Slot.slowRetry', retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '1s' }) })
  async slowRetry(id: string): Promise<string> {
    const n = enter('Slot.slowRetry', id);
    if (n === 1) fail('Slot.slowRetry', id, new TransientError('try again in a second'));
    return `A-done-on-call-${n}`;
  }

  @Step({ name: 'Slot.quick' })
  async quick(id: string): Promise<string> {
    enter('Slot.quick', id);
    return `B-done`;
  }
}

@Workflow({ name: 'Slot.A' })
class SlotAWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly steps: SlotSteps) {}
  run(input: { id: string }): Promise<string> {
    return this.steps.slowRetry(input.id);
  }
}

@Workflow({ name: 'Slot.B' })
class SlotBWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly steps: SlotSteps) {}
  run(input: { id: string }): Promise<string> {
    return this.steps.quick(input.id);
  }
}

@Injectable()
class RestartSteps {
  @Step({ name: 'Restart.prepare' })
  async prepare(id: string): Promise<string> {
    enter('Restart.prepare', id);
    return `prepared-${id}`;
  }

  @Step({ name: 'Restart.unreliable', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '1s' }) })
  async unreliable(id: string): Promise<string> {
    const n = enter('Restart.unreliable', id);
    return fail('Restart.unreliable', id, new TransientError(`still failing (call ${n})`, { kind: ErrorKind.NetworkError, code: 'STILL' }));
  }
}

@Workflow({ name: 'Restart.Flow' })
class RestartWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly steps: RestartSteps) {}
  async run(input: { id: string }): Promise<string> {
    await this.steps.prepare(input.id);
    return this.steps.unreliable(input.id);
  }
}

// ---------------------------------------------------------------------------------------------------
// Fixtures for the module-options app (defaultRetry, classifyError)
// ---------------------------------------------------------------------------------------------------

@Injectable()
class ModuleSteps {
  @Step({ name: 'Module.usesDefault' })
  async usesDefault(id: string): Promise<string> {
    const n = enter('Module.usesDefault', id);
    return fail('Module.usesDefault', id, new Error(`plain failure (call ${n})`));
  }

  @Step({ name: 'Module.ownNone', retry: RetryPolicy.none() })
  async ownNone(id: string): Promise<string> {
    enter('Module.ownNone', id);
    return fail('Module.ownNone', id, new Error('plain failure'));
  }

  @Step({ name: 'Module.ownFive', retry: RetryPolicy.fixed({ maxAttempts: 5, interval: '10ms' }) })
  async ownFive(id: string): Promise<string> {
    enter('Module.ownFive', id);
    return fail('Module.ownFive', id, new Error('plain failure'));
  }

  @Step({ name: 'Module.quota', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '10ms', retryOn: [ErrorKind.RateLimited] }) })
  async quota(id: string): Promise<string> {
    enter('Module.quota', id);
    return fail('Module.quota', id, new QuotaExceededError('quota exceeded'));
  }

  @Step({ name: 'Module.coupon' }) // module default policy, retryOn 'retryable'
  async coupon(id: string): Promise<string> {
    enter('Module.coupon', id);
    return fail('Module.coupon', id, new InvalidCouponError('coupon expired'));
  }
}

type ModuleScenario = keyof ModuleSteps;

@Workflow({ name: 'Module.Scenario' })
class ModuleScenarioWorkflow implements WorkflowDefinition<{ id: string; scenario: ModuleScenario }, string> {
  constructor(private readonly steps: ModuleSteps) {}
  run(input: { id: string; scenario: ModuleScenario }): Promise<string> {
    return this.steps[input.scenario](input.id);
  }
}

// ---------------------------------------------------------------------------------------------------
// helpers
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
// 1-4, 7, 9: the default app
// ---------------------------------------------------------------------------------------------------

describe('retries in a worker with default module options', () => {
  let kagzi: KagziTestApp;
  const start = (id: string, scenario: Scenario): Promise<WorkflowHandle<ScenarioOutput>> => kagzi.client.start(ScenarioWorkflow, { id, scenario });

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: [RetrySteps, ScenarioWorkflow] });
  });

  afterAll(() => kagzi?.close());

  describe('1: a step that always fails with a TransientError under fixed({ maxAttempts: 3 })', () => {
    let handle: WorkflowHandle<ScenarioOutput>;
    let failure: WorkflowFailedError;

    beforeAll(async () => {
      handle = await start('always-1', 'alwaysTransient');
      failure = await failureOf(handle);
    });

    it('runs exactly 3 times, 50 ms or more apart, and the run fails', async () => {
      expect(calls.get('Retry.alwaysTransient', 'always-1')).toBe(3);
      expect(calls.get('Retry.prepare', 'always-1')).toBe(1);
      expect(await handle.status()).toBe('FAILED');
      const starts = startedAt.get('Retry.alwaysTransient|always-1')!;
      const throws = threwAt.get('Retry.alwaysTransient|always-1')!;
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
    expect(calls.get('Retry.flakyTwice', 'flaky-2')).toBe(3);
    expect(calls.get('Retry.prepare', 'flaky-2')).toBe(1);

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

  describe('3: which errors are retried', () => {
    it("a PermanentError is never retried under retryOn 'retryable'", async () => {
      const failure = await failureOf(await start('perm-3a', 'permanent'));
      expect(calls.get('Retry.permanent', 'perm-3a')).toBe(1);
      expect(failure.error).toBeInstanceOf(PermanentError);
      expect(failure.error).toMatchObject({ kind: ErrorKind.BusinessLogicError, message: 'card declined', code: 'DECLINED', retryable: false, context: { id: 'perm-3a' } });
    });

    it('a Nest HttpException(400) is INVALID_INPUT and never retried', async () => {
      const handle = await start('http400-3b', 'http400');
      const failure = await failureOf(handle);
      expect(calls.get('Retry.http400', 'http400-3b')).toBe(1);
      expect(failure.error).toBeInstanceOf(StepError);
      expect(failure.error).toMatchObject({ kind: ErrorKind.InvalidInput, message: 'amount must be positive', retryable: false });
      const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.http400');
      expect(step.attempts).toHaveLength(1);
    });

    it("retryOn 'any' retries a non-retryable kind (NOT_FOUND) ...", async () => {
      const handle = await start('any-3c', 'anyPlain');
      await expect(handle.result({ timeout: '15s' })).resolves.toEqual({ prepared: 'prepared-any-3c', value: 'found-any-3c' });
      expect(calls.get('Retry.anyPlain', 'any-3c')).toBe(3);
      const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.anyPlain');
      expect(step.attempts.map((a) => a.error?.kind)).toEqual(['NOT_FOUND', 'NOT_FOUND', undefined]);
    });

    it("... but not a PermanentError", async () => {
      const failure = await failureOf(await start('anyperm-3d', 'anyPermanent'));
      expect(calls.get('Retry.anyPermanent', 'anyperm-3d')).toBe(1);
      expect(failure.error).toBeInstanceOf(PermanentError);
      expect(failure.error.kind).toBe(ErrorKind.NotFound);
    });

    it('retryOn [RATE_LIMITED] retries a 429 ...', async () => {
      const handle = await start('rl-3e', 'rateLimited429');
      await expect(handle.result({ timeout: '15s' })).resolves.toEqual({ prepared: 'prepared-rl-3e', value: 'sent-rl-3e' });
      expect(calls.get('Retry.rateLimited429', 'rl-3e')).toBe(2);
      const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.rateLimited429');
      expect(step.attempts[0].error).toMatchObject({ kind: 'RATE_LIMITED', message: 'slow down' });
    });

    it('... but not a 503, retryable as it is', async () => {
      const failure = await failureOf(await start('rl-3f', 'rateLimited503'));
      expect(calls.get('Retry.rateLimited503', 'rl-3f')).toBe(1);
      expect(failure.error.kind).toBe(ErrorKind.ServiceUnavailable);
    });

    it('... nor an unclassified error (without a classifyError hook a custom class is UNKNOWN)', async () => {
      const failure = await failureOf(await start('quota-3g', 'quotaNoHook'));
      expect(calls.get('Retry.quotaNoHook', 'quota-3g')).toBe(1);
      expect(failure.error.kind).toBe(ErrorKind.Unknown);
      expect(failure.error.message).toBe('quota exceeded');
    });

    it('a retryOn predicate decides from the StepError, up to maxAttempts', async () => {
      const yes = await failureOf(await start('pred-3h-yes', 'predicate'));
      expect(calls.get('Retry.predicate', 'pred-3h-yes')).toBe(3);
      expect(yes.error).toMatchObject({ kind: ErrorKind.BusinessLogicError, code: 'RETRY_ME' });
      // consulted after attempts 1 and 2; attempt 3 is the last whatever it says
      expect(predicateSaw.filter((p) => p.id === 'pred-3h-yes')).toEqual([
        { id: 'pred-3h-yes', attempt: 1, kind: ErrorKind.BusinessLogicError, code: 'RETRY_ME' },
        { id: 'pred-3h-yes', attempt: 2, kind: ErrorKind.BusinessLogicError, code: 'RETRY_ME' },
      ]);

      const no = await failureOf(await start('pred-3h-no', 'predicate'));
      expect(calls.get('Retry.predicate', 'pred-3h-no')).toBe(1);
      expect(no.error.code).toBe('LEAVE_ME');
    });
  });

  it("4: an error's retryAfter (300 ms) overrides the policy's 10 ms interval", async () => {
    const handle = await start('ra-4', 'retryAfter');
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({ prepared: 'prepared-ra-4', value: 'ok-ra-4' });
    expect(calls.get('Retry.retryAfter', 'ra-4')).toBe(2);
    // measured in the step body: from the throw to the next attempt's start
    const waited = startedAt.get('Retry.retryAfter|ra-4')![1] - threwAt.get('Retry.retryAfter|ra-4')![0];
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

  describe('7: step timeout', () => {
    it('aborts the attempt signal, records TIMEOUT, retries, and fails with TIMEOUT when every attempt hangs', async () => {
      const handle = await start('to-7a', 'hangs');
      const failure = await failureOf(handle);
      expect(calls.get('Retry.hangs', 'to-7a')).toBe(2);
      const signals = timeoutSignals.get('to-7a')!;
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
      expect(calls.get('Retry.hangsOnce', 'to-7b')).toBe(2);
      const [first, second] = timeoutSignals.get('to-7b')!;
      expect(first.aborted).toBe(true);
      expect(second.aborted).toBe(false);
      const step = stepOf(await kagzi.client.getRun(handle.runId), 'Retry.hangsOnce');
      expect(step.attempts.map((a) => a.error?.kind)).toEqual(['TIMEOUT', undefined]);
    });
  });

  it('9: a Nest ServiceUnavailableException is SERVICE_UNAVAILABLE, retried, and rehydrated at the caller', async () => {
    const handle = await start('http503-9', 'http503');
    const failure = await failureOf(handle);
    expect(calls.get('Retry.http503', 'http503-9')).toBe(2);
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
// 5: back-off frees the worker slot
// ---------------------------------------------------------------------------------------------------

describe('5: a run waiting for its next attempt frees its worker slot', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers: [SlotSteps, SlotAWorkflow, SlotBWorkflow], worker: { concurrency: 1 } });
  });

  afterAll(() => kagzi?.close());

  it('run B completes during run A’s 1 s back-off, while A is SLEEPING', async () => {
    const a = await kagzi.client.start(SlotAWorkflow, { id: 'slot-a' });
    await waitFor('A’s first attempt to fail', () => (threwAt.get('Slot.slowRetry|slot-a') ?? []).length === 1);
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
    expect(calls.get('Slot.slowRetry', 'slot-a')).toBe(1); // A's second attempt has not started
    expect(await a.status()).toBe('SLEEPING');

    await expect(a.result({ timeout: '10s' })).resolves.toBe('A-done-on-call-2');
    expect(startedAt.get('Slot.slowRetry|slot-a')![1]).toBeGreaterThan(bDoneAt);
    expect(startedAt.get('Slot.slowRetry|slot-a')![1] - threwAt.get('Slot.slowRetry|slot-a')![0]).toBeGreaterThanOrEqual(1_000);
  });
});

// ---------------------------------------------------------------------------------------------------
// 6: the back-off survives a restart
// ---------------------------------------------------------------------------------------------------

describe('6: durable back-off across a restart', () => {
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
    expect(calls.get('Restart.unreliable', 'restart-6')).toBe(1);

    const second = await bootKagzi({ url: db.url, providers: [RestartSteps, RestartWorkflow] });
    try {
      const failure = await failureOf(second.client.getHandle(handle.runId));
      expect(calls.get('Restart.unreliable', 'restart-6')).toBe(3); // 1 before the restart + 2 after: not 1 + 3
      expect(calls.get('Restart.prepare', 'restart-6')).toBe(1);
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
// 8: module defaultRetry and classifyError
// ---------------------------------------------------------------------------------------------------

describe('8: module defaultRetry and classifyError', () => {
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
    expect(calls.get('Module.usesDefault', 'default-8a')).toBe(3);
    expect(failure.error).toMatchObject({ kind: ErrorKind.Unknown, message: 'plain failure (call 3)' });
  });

  it("a step's own policy wins over defaultRetry (none: 1 attempt; fixed 5: 5 attempts)", async () => {
    await failureOf(await start('own-8b', 'ownNone'));
    expect(calls.get('Module.ownNone', 'own-8b')).toBe(1);
    await failureOf(await start('own-8c', 'ownFive'));
    expect(calls.get('Module.ownFive', 'own-8c')).toBe(5);
  });

  it('the classifyError hook maps a custom error class to RATE_LIMITED, so retryOn [RATE_LIMITED] retries it', async () => {
    const handle = await start('quota-8d', 'quota');
    const failure = await failureOf(handle);
    expect(calls.get('Module.quota', 'quota-8d')).toBe(3);
    expect(failure.error).toMatchObject({ kind: ErrorKind.RateLimited, message: 'quota exceeded', retryable: true });
    expect(hookSaw.some((e) => e instanceof QuotaExceededError)).toBe(true);
    const step = stepOf(await kagzi.client.getRun(handle.runId), 'Module.quota');
    expect(step.attempts.map((a) => a.error?.kind)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('the hook can make an error permanent: VALIDATION_FAILED is not retried under the retryable default', async () => {
    const failure = await failureOf(await start('coupon-8e', 'coupon'));
    expect(calls.get('Module.coupon', 'coupon-8e')).toBe(1);
    expect(failure.error).toMatchObject({ kind: ErrorKind.ValidationFailed, message: 'coupon expired', retryable: false });
  });
});

// ---------------------------------------------------------------------------------------------------
// 10-13: what is stored from an error, and payloads too deep to store
// ---------------------------------------------------------------------------------------------------

const NUL = String.fromCharCode(0);
const SECRET = 'sk_live_do_not_store';

class LedgerUnavailableError extends Error {
  constructor(
    message: string,
    readonly subject: string,
  ) {
    super(message);
    this.name = 'LedgerUnavailableError';
  }
}
class CardDeclinedError extends PermanentError {}

/** Nested `levels` objects deep: `{ next: { next: ... { leaf } } }`. */
function nestedValue(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let cur = root;
  for (let i = 1; i < levels; i++) cur = (cur.next = {}) as Record<string, unknown>;
  cur.leaf = 'bottom';
  return root;
}

/** What the retryOn predicate and the workflow's catch saw, per subject. */
const namesSeen = new Map<string, Array<{ where: 'retryOn' | 'catch'; name: string; causeName?: string; permanent: boolean }>>();
function sawName(id: string, where: 'retryOn' | 'catch', err: StepError): void {
  const causeName = err.cause instanceof Error ? err.cause.name : undefined;
  namesSeen.set(id, [...(namesSeen.get(id) ?? []), { where, name: err.name, causeName, permanent: err instanceof PermanentError }]);
}

@Injectable()
class StoredErrorSteps {
  @Step({ name: 'Stored.prepare' })
  async prepare(id: string): Promise<string> {
    enter('Stored.prepare', id);
    return `prepared-${id}`;
  }

  @Step({ name: 'Stored.nulMessage', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '10ms', retryOn: 'any' }) })
  async nulMessage(id: string): Promise<string> {
    enter('Stored.nulMessage', id);
    return fail('Stored.nulMessage', id, new PermanentError(`bad ${NUL} byte`, { code: 'NUL_BYTE', context: { id, raw: `a${NUL}b` } }));
  }

  /** Shaped like an axios (or wrapper) failure: the request config with its Authorization header rides along. */
  @Step({ name: 'Stored.httpClientFailure', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '10ms' }) })
  async httpClientFailure(id: string): Promise<string> {
    enter('Stored.httpClientFailure', id);
    return fail('Stored.httpClientFailure', id, {
      status: 400,
      config: { url: 'https://payments.example/charge', headers: { Authorization: `Bearer ${SECRET}` } },
      response: { status: 400, headers: { 'set-cookie': `session=${SECRET}` }, data: { error: 'amount must be positive' } },
    });
  }

  @Step({ name: 'Stored.secretContext' })
  async secretContext(id: string): Promise<string> {
    enter('Stored.secretContext', id);
    return fail('Stored.secretContext', id, new PermanentError('charge refused', {
      code: 'REFUSED',
      context: { id, apiKey: SECRET, request: { headers: { authorization: `Bearer ${SECRET}` } }, customer: { password: SECRET, email: 'a@example.com' } },
    }));
  }

  @Step({
    name: 'Stored.ledger',
    retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '10ms', retryOn: (e) => (sawName((e.cause as LedgerUnavailableError).subject, 'retryOn', e), true) }),
  })
  async ledger(id: string): Promise<string> {
    enter('Stored.ledger', id);
    return fail('Stored.ledger', id, new LedgerUnavailableError('ledger is down', id));
  }

  @Step({ name: 'Stored.declined' })
  async declined(id: string): Promise<string> {
    enter('Stored.declined', id);
    return fail('Stored.declined', id, new CardDeclinedError('card declined', { code: 'DECLINED' }));
  }

  @Step({ name: 'Stored.echo' })
  async echo(value: Record<string, unknown>): Promise<Record<string, unknown>> {
    enter('Stored.echo', 'deep');
    return value;
  }

  @Step({ name: 'Stored.deepOutput' })
  async deepOutput(id: string): Promise<Record<string, unknown>> {
    enter('Stored.deepOutput', id);
    return nestedValue(20_000);
  }
}
type StoredScenario = 'nulMessage' | 'httpClientFailure' | 'secretContext' | 'deepOutput';

@Workflow({ name: 'Stored.Scenario' })
class StoredScenarioWorkflow implements WorkflowDefinition<{ id: string; scenario: StoredScenario }, unknown> {
  constructor(private readonly steps: StoredErrorSteps) {}
  async run(input: { id: string; scenario: StoredScenario }): Promise<unknown> {
    await this.steps.prepare(input.id);
    return this.steps[input.scenario](input.id);
  }
}

/** run() itself throws a PermanentError whose context holds a BigInt and a cycle. */
@Workflow({ name: 'Stored.UnstorableContext' })
class UnstorableContextWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly steps: StoredErrorSteps) {}
  async run(input: { id: string }): Promise<string> {
    await this.steps.prepare(input.id);
    calls.bump('Stored.UnstorableContext.run', input.id);
    const order: Record<string, unknown> = { id: input.id, cents: 1999n };
    order.self = order;
    throw new PermanentError('settlement failed', { code: 'SETTLE', context: { order, total: 12345678901234567890n, at: new Date('2024-01-02T03:04:05.000Z') } });
  }
}

/** Catches a step failure, sleeps (so the run parks and the catch runs again on replay, with the stored error) and rethrows. */
@Workflow({ name: 'Stored.Names' })
class NamesWorkflow implements WorkflowDefinition<{ id: string; which: 'ledger' | 'declined' }, string> {
  constructor(private readonly steps: StoredErrorSteps) {}
  async run(input: { id: string; which: 'ledger' | 'declined' }, ctx: WorkflowContext): Promise<string> {
    try {
      return await this.steps[input.which](input.id);
    } catch (err: unknown) {
      if (!(err instanceof StepError)) throw err;
      sawName(input.id, 'catch', err);
      await ctx.sleep('300ms');
      throw err;
    }
  }
}

@Workflow({ name: 'Stored.Deep' })
class DeepWorkflow implements WorkflowDefinition<Record<string, unknown>, Record<string, unknown>> {
  constructor(private readonly steps: StoredErrorSteps) {}
  run(input: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.steps.echo(input);
  }
}

describe('10-13: what is stored from an error, and payloads too deep to store', () => {
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

  describe('10: an error jsonb cannot store as thrown fails the run once, not forever', () => {
    it('a step throwing PermanentError with NUL in its message: ran once, run FAILED, getRun shows the error', async () => {
      const handle = await start('nul-10a', 'nulMessage');
      const failure = await failureOf(handle);
      expect(calls.get('Stored.nulMessage', 'nul-10a')).toBe(1);
      expect(calls.get('Stored.prepare', 'nul-10a')).toBe(1);
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
      expect(calls.get('Stored.UnstorableContext.run', 'ctx-10b')).toBe(1);
      expect(calls.get('Stored.prepare', 'ctx-10b')).toBe(1);
      const context = { order: { id: 'ctx-10b', cents: '1999', self: '[Circular]' }, total: '12345678901234567890', at: '2024-01-02T03:04:05.000Z' };
      expect(failure.error).toBeInstanceOf(PermanentError);
      expect(failure.error).toMatchObject({ message: 'settlement failed', code: 'SETTLE', context });

      const run = await kagzi.client.getRun(handle.runId);
      expect(run.status).toBe('FAILED');
      expect(run.error).toMatchObject({ name: 'PermanentError', message: 'settlement failed', context, stepName: 'Stored.UnstorableContext.run' });
    });
  });

  describe('11: secrets in errors are never stored', () => {
    it('an HTTP-client-shaped failure: described by status, classified INVALID_INPUT, ran once, no header or config stored', async () => {
      const handle = await start('http-11a', 'httpClientFailure');
      const failure = await failureOf(handle);
      expect(calls.get('Stored.httpClientFailure', 'http-11a')).toBe(1); // 400 is not retryable
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
      expect(calls.get('Stored.secretContext', 'ctx-11b')).toBe(1);
      const redacted = { id: 'ctx-11b', apiKey: '[REDACTED]', request: '[REDACTED]', customer: { password: '[REDACTED]', email: 'a@example.com' } };
      expect(failure.error.context).toEqual(redacted);
      for (const text of await storedErrors(handle.runId)) expect(text).not.toContain(SECRET);
      expect((await kagzi.client.getRun(handle.runId)).error?.context).toEqual(redacted);
    });
  });

  describe("12: a StepError's name is the Kagzi class; the thrown class is cause.name", () => {
    it('a thrown Error subclass: the same names in retryOn, in the catch (first run and replay), at the caller and in getRun', async () => {
      const handle = await kagzi.client.start(NamesWorkflow, { id: 'names-12a', which: 'ledger' });
      const failure = await failureOf(handle);
      expect(calls.get('Stored.ledger', 'names-12a')).toBe(2);
      const expected = { name: 'StepError', causeName: 'LedgerUnavailableError', permanent: false };
      expect(namesSeen.get('names-12a')).toEqual([
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
      expect(calls.get('Stored.declined', 'names-12b')).toBe(1);
      const expected = { where: 'catch', name: 'CardDeclinedError', permanent: true };
      expect(namesSeen.get('names-12b')).toEqual([expected, expected]);
      expect(failure.error).toBeInstanceOf(PermanentError);
      expect(failure.error).toMatchObject({ name: 'CardDeclinedError', code: 'DECLINED', retryable: false });
      expect((await kagzi.client.getRun(handle.runId)).error).toMatchObject({ name: 'CardDeclinedError', kagziClass: 'PermanentError' });
    });
  });

  describe('13: payloads nested deeper than 1,000 levels', () => {
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
      expect(calls.get('Stored.echo', 'deep')).toBe(1);
    });

    it('a step returning 20,000 levels fails once with KAGZI_UNSERIALIZABLE_VALUE', async () => {
      const handle = await start('deep-13c', 'deepOutput');
      const failure = await failureOf(handle);
      expect(calls.get('Stored.deepOutput', 'deep-13c')).toBe(1);
      expect(failure.error).toMatchObject({ code: 'KAGZI_UNSERIALIZABLE_VALUE', kind: ErrorKind.ValidationFailed });
      expect(failure.error.message).toMatch(/is nested deeper than 1000 levels/);
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// 14: values and hooks that break error handling itself
// ---------------------------------------------------------------------------------------------------

/** Thrown from many places, as shared error constants are: frozen. */
const DECLINED = Object.freeze(new PermanentError('card declined (shared constant)', { code: 'DECLINED' }));

/** A thrown value whose every trap throws: nothing about it can be read. */
function unreadable(): unknown {
  const boom = (): never => {
    throw new Error('trap');
  };
  return new Proxy({}, { get: boom, has: boom, getPrototypeOf: boom, ownKeys: boom, getOwnPropertyDescriptor: boom });
}

/** What the workflow's catch saw for the frozen constant, per run (first run and replay). */
const frozenSeen = new Map<string, Array<{ permanent: boolean; code?: string; name: string }>>();

@Injectable()
class HostileSteps {
  @Step({ name: 'Hostile.plain' })
  async plain(id: string): Promise<string> {
    enter('Hostile.plain', id);
    throw new Error(`plain failure ${id}`);
  }

  @Step({ name: 'Hostile.frozen' })
  async frozen(id: string): Promise<string> {
    enter('Hostile.frozen', id);
    throw DECLINED;
  }
}

type HostileScenario = 'hook' | 'proxy' | 'frozen';

@Workflow({ name: 'Hostile.Scenario' })
class HostileWorkflow implements WorkflowDefinition<{ id: string; scenario: HostileScenario }, string> {
  constructor(private readonly steps: HostileSteps) {}

  async run(input: { id: string; scenario: HostileScenario }, ctx: WorkflowContext): Promise<string> {
    calls.bump('Hostile.run', input.id);
    if (input.scenario === 'hook') return this.steps.plain(input.id);
    if (input.scenario === 'proxy') throw unreadable();
    try {
      return await this.steps.frozen(input.id);
    } catch (err: unknown) {
      frozenSeen.set(input.id, [
        ...(frozenSeen.get(input.id) ?? []),
        { permanent: err instanceof PermanentError, code: (err as StepError).code, name: (err as Error).name },
      ]);
      await ctx.sleep('200ms'); // parks: the catch runs again on replay, from the stored failure
      return 'declined';
    }
  }
}

describe('14: values and hooks that break error handling itself', () => {
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
    expect(calls.get('Hostile.plain', 'hook-14a')).toBe(1);
    expect(calls.get('Hostile.run', 'hook-14a')).toBe(1);
  });

  it('run() throwing a value that cannot be read fails the run once with an error that says so', async () => {
    const handle = await kagzi.client.start(HostileWorkflow, { id: 'proxy-14b', scenario: 'proxy' });
    const failure = await failureOf(handle);
    expect(failure.error.message).toMatch(/^A value was thrown that could not be read: trap$/);
    expect(calls.get('Hostile.run', 'proxy-14b')).toBe(1);
    const [run] = await sql<{ lease_epoch: number }>(db.url, 'select lease_epoch from kagzi.workflow_runs where id = $1', [handle.runId]);
    expect(run.lease_epoch).toBe(1);
  });

  it('a step throwing a frozen PermanentError: its failure is recorded, the catch sees the same error on replay, the body ran once', async () => {
    const handle = await kagzi.client.start(HostileWorkflow, { id: 'frozen-14c', scenario: 'frozen' });
    expect(await handle.result({ timeout: '10s' })).toBe('declined');
    expect(calls.get('Hostile.frozen', 'frozen-14c')).toBe(1);
    expect(calls.get('Hostile.run', 'frozen-14c')).toBe(2);
    expect(frozenSeen.get('frozen-14c')).toEqual([
      { permanent: true, code: 'DECLINED', name: 'PermanentError' },
      { permanent: true, code: 'DECLINED', name: 'PermanentError' },
    ]);
    expect(Object.isFrozen(DECLINED) && DECLINED.stepName).toBe(''); // the shared constant itself is untouched
  });
});
