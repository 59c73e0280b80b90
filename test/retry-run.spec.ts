/**
 * client.retry (SPEC §5.2): a FAILED or CANCELLED run runs again under the same run id from where it
 * stopped. Step bodies are counted, so "completed steps are not re-executed" is a count; attempts are
 * read back per try.
 */
import { Injectable } from '@nestjs/common';
import {
  ErrorKind,
  InvalidOptionsError,
  PermanentError,
  RetryPolicy,
  RunNotFoundError,
  RunNotRetryableError,
  Step,
  Workflow,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
} from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, rejectionOf, sql, waitForStatus } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();
/** The "deploy": while true, Billing.charge fails for good; the fixed code is registered by a new app. */
let chargeBroken = true;

@Injectable()
class Billing {
  @Step({ name: 'Billing.reserve' })
  async reserve(id: string): Promise<string> {
    effects.enter('reserve', id);
    return `reserved-${id}`;
  }

  @Step({ name: 'Billing.charge' })
  async charge(id: string): Promise<string> {
    effects.enter('charge', id);
    if (chargeBroken) throw new PermanentError('card processor rejected the request format', { kind: ErrorKind.ValidationFailed, code: 'BAD_FORMAT' });
    return `charged-${id}`;
  }

  @Step({ name: 'Billing.release' })
  async release(id: string): Promise<void> {
    effects.enter('release', id);
  }

  @Step({ name: 'Billing.optional' })
  async optional(id: string): Promise<string> {
    effects.enter('optional', id);
    throw new PermanentError('optional extra is not available');
  }

  @Step({ name: 'Billing.flaky', retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '10ms' }) })
  async flaky(id: string): Promise<string> {
    effects.enter('flaky', id);
    if (chargeBroken) throw new Error('gateway timeout');
    return `flaky-${id}`;
  }
}

@Workflow({ name: 'Retry.Order' })
class OrderWorkflow implements WorkflowDefinition<{ id: string }, string[]> {
  constructor(private readonly billing: Billing) {}
  async run(input: { id: string }, ctx: WorkflowContext): Promise<string[]> {
    effects.bump('order-entered', input.id);
    const reserved = await this.billing.reserve(input.id);
    // A failure the code catches and goes on from: recorded, and kept by a retry.
    const extra = await this.billing.optional(input.id).catch(() => 'no-extra');
    await ctx.sleep('50ms');
    return [reserved, extra, await this.billing.charge(input.id)];
  }
}

@Workflow({ name: 'Retry.Flaky' })
class FlakyWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly billing: Billing) {}
  async run(input: { id: string }): Promise<string> {
    return this.billing.flaky(input.id);
  }
}

@Workflow({ name: 'Retry.Sleeper' })
class SleeperWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly billing: Billing) {}
  async run(input: { id: string }, ctx: WorkflowContext): Promise<string> {
    await this.billing.reserve(input.id);
    await ctx.sleep('300ms');
    return 'woke';
  }
}

/** A saga that compensates and rethrows (the demo's shape): the retry must get past the failed charge. */
@Workflow({ name: 'Retry.Saga' })
class SagaWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly billing: Billing) {}
  async run(input: { id: string }): Promise<string> {
    await this.billing.reserve(input.id);
    try {
      return await this.billing.charge(input.id);
    } catch (err) {
      await this.billing.release(input.id);
      throw err;
    }
  }
}

/** Waits for payment with a short window: a retried run waits afresh. */
@Workflow({ name: 'Retry.Payment' })
class PaymentWorkflow implements WorkflowDefinition<{ id: string }, unknown> {
  constructor(private readonly billing: Billing) {}
  async run(input: { id: string }, ctx: WorkflowContext): Promise<unknown> {
    await this.billing.reserve(input.id);
    const paid = await ctx.waitForSignal('paid', { timeout: '1500ms' });
    if (paid === undefined) throw new PermanentError('not paid in time');
    return paid;
  }
}

const PROVIDERS = [Billing, OrderWorkflow, FlakyWorkflow, SleeperWorkflow, SagaWorkflow, PaymentWorkflow];

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('retry_run');
  kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

beforeEach(() => {
  effects.reset();
  chargeBroken = true;
});

describe('client.retry', () => {
  it('after a permanent failure and a deploy of fixed code: completed steps are not re-run, the failed step runs again, same run id', async () => {
    const handle = await kagzi.client.start(OrderWorkflow, { id: 'o1' });
    const failure = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(effects.count('charge', 'o1')).toBe(1);

    // The fix ships: a new app (new registration of the same workflow) with the corrected step.
    await kagzi.close();
    chargeBroken = false;
    kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
    const retried = await kagzi.client.retry(handle.runId);
    expect(retried.runId).toBe(handle.runId);
    expect(await retried.result({ timeout: '10s' })).toEqual(['reserved-o1', 'no-extra', 'charged-o1']);

    expect(effects.count('reserve', 'o1')).toBe(1);
    expect(effects.count('optional', 'o1')).toBe(1); // caught and gone past: kept, not re-run
    expect(effects.count('charge', 'o1')).toBe(2);
    const details = await kagzi.client.getRun(handle.runId);
    expect(details.status).toBe('COMPLETED');
    expect(details.error).toBeUndefined();
    expect(details.retries).toHaveLength(1);
    expect(details.retries[0]).toMatchObject({ previousStatus: 'FAILED', previousError: { kind: 'VALIDATION_FAILED', code: 'BAD_FORMAT' } });
    expect(details.retries[0].at).toBeInstanceOf(Date);
    const charge = details.steps.find((s) => s.name === 'Billing.charge');
    expect(charge?.status).toBe('COMPLETED');
    expect(charge?.attempts.map((a) => [a.runTry, a.attempt, a.error?.code ?? null])).toEqual([
      [1, 1, 'BAD_FORMAT'],
      [2, 1, null],
    ]);
  });

  it('the failed step gets a fresh attempt series: its retry policy applies again', async () => {
    const handle = await kagzi.client.start(FlakyWorkflow, { id: 'f1' });
    await rejectionOf(handle.result({ timeout: '10s' }));
    expect(effects.count('flaky', 'f1')).toBe(2);
    await kagzi.client.retry(handle.runId);
    await rejectionOf(handle.result({ timeout: '10s' }));
    expect(effects.count('flaky', 'f1')).toBe(4);
    chargeBroken = false;
    await kagzi.client.retry(handle.runId);
    expect(await handle.result({ timeout: '10s' })).toBe('flaky-f1');
    const details = await kagzi.client.getRun(handle.runId);
    expect(details.retries.map((r) => r.previousStatus)).toEqual(['FAILED', 'FAILED']);
    expect(details.steps[0].attempts.map((a) => `${a.runTry}.${a.attempt}`)).toEqual(['1.1', '1.2', '2.1', '2.2', '3.1']);
  });

  it('a CANCELLED run goes on from where it stopped', async () => {
    const handle = await kagzi.client.start(SleeperWorkflow, { id: 's1' });
    await waitForStatus(handle, 'SLEEPING');
    await kagzi.client.cancel(handle.runId, 'by mistake');
    await rejectionOf(handle.result({ timeout: '10s' }));
    expect(await handle.status()).toBe('CANCELLED');
    await kagzi.client.retry(handle.runId);
    expect(await handle.result({ timeout: '10s' })).toBe('woke');
    expect(effects.count('reserve', 's1')).toBe(1);
    const details = await kagzi.client.getRun(handle.runId);
    expect(details.retries).toEqual([expect.objectContaining({ previousStatus: 'CANCELLED', previousError: expect.objectContaining({ kind: 'CANCELLED', message: 'by mistake' }) })]);
    expect(details.cancelRequestedAt).toBeUndefined();
  });

  it('a saga that compensated and rethrew: the retry runs the failed step again and takes the path past it', async () => {
    const handle = await kagzi.client.start(SagaWorkflow, { id: 'saga' });
    await rejectionOf(handle.result({ timeout: '10s' }));
    expect(effects.count('release', 'saga')).toBe(1);
    chargeBroken = false;
    await kagzi.client.retry(handle.runId);
    expect(await handle.result({ timeout: '10s' })).toBe('charged-saga');
    expect([effects.count('reserve', 'saga'), effects.count('charge', 'saga'), effects.count('release', 'saga')]).toEqual([1, 2, 1]);
    const steps = (await kagzi.client.getRun(handle.runId)).steps.map((s) => [s.name, s.status]);
    expect(steps).toEqual([
      ['Billing.reserve', 'COMPLETED'],
      ['Billing.charge', 'COMPLETED'],
    ]);
  });

  it('a run cancelled while it waited for a signal waits afresh when retried (a new timeout)', async () => {
    const handle = await kagzi.client.start(PaymentWorkflow, { id: 'pay' });
    await waitForStatus(handle, 'WAITING');
    await kagzi.client.cancel(handle.runId);
    await rejectionOf(handle.result({ timeout: '10s' }));
    await new Promise((resolve) => setTimeout(resolve, 1_600)); // the original window has passed
    await kagzi.client.retry(handle.runId);
    await waitForStatus(handle, 'WAITING');
    await kagzi.client.signal(handle.runId, 'paid', { amount: 42 });
    expect(await handle.result({ timeout: '10s' })).toEqual({ amount: 42 });
    expect(effects.count('reserve', 'pay')).toBe(1);
  });

  it('refuses runs that are not FAILED or CANCELLED, and unknown or malformed ids', async () => {
    const done = await kagzi.client.start(SleeperWorkflow, { id: 'ok' });
    const live = await rejectionOf(kagzi.client.retry(done.runId));
    expect(live).toBeInstanceOf(RunNotRetryableError);
    expect((live as RunNotRetryableError).status).toMatch(/PENDING|RUNNING|SLEEPING/);
    await done.result({ timeout: '10s' });
    const completed = await rejectionOf(kagzi.client.retry(done.runId));
    expect(completed).toBeInstanceOf(RunNotRetryableError);
    expect((completed as Error).message).toContain('COMPLETED');
    expect(await rejectionOf(kagzi.client.retry('00000000-0000-4000-8000-000000000000'))).toBeInstanceOf(RunNotFoundError);
    const malformed = await rejectionOf(kagzi.client.retry('not-a-run-id'));
    expect(malformed).toBeInstanceOf(Error);
    expect([RunNotFoundError, InvalidOptionsError].some((t) => malformed instanceof t)).toBe(true);
    expect((await kagzi.client.getRun(done.runId)).retries).toEqual([]);
  });

  it('a retried run nobody serves waits visibly, PENDING and due', async () => {
    const handle = await kagzi.client.start(OrderWorkflow, { id: 'unserved' });
    await rejectionOf(handle.result({ timeout: '10s' }));
    await kagzi.close();
    const clientOnly = await bootKagzi({ url: db.url, providers: [], worker: false });
    try {
      await clientOnly.client.retry(handle.runId);
      const [row] = await sql<{ status: string; due: boolean }>(db.url, 'select status, due_at <= now() as due from kagzi.workflow_runs where id = $1', [handle.runId]);
      expect(row).toEqual({ status: 'PENDING', due: true });
    } finally {
      await clientOnly.close();
      chargeBroken = false; // the fix ships with the worker that comes back
      kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
    }
    expect(await kagzi.client.getHandle(handle.runId).result({ timeout: '10s' })).toEqual(['reserved-unserved', 'no-extra', 'charged-unserved']);
  });
});
