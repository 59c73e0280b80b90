/**
 * Cancellation delivered to the workflow's code (SPEC §5.1): `client.cancel` reaches the run as a
 * WorkflowCancelledError at its pending await — a sleep, a signal wait, a step — the workflow's catch
 * runs compensation inside `ctx.nonCancellable`, and the run ends CANCELLED. Side effects are counted
 * where they happen, so "compensated once" is a count, across replays too.
 */
import { Injectable } from '@nestjs/common';
import { Step, stepSignal, UsageError, Workflow, WorkflowCancelledError, WorkflowContext, WorkflowDefinition, WorkflowFailedError } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, rejectionOf, sql, waitFor, waitForStatus } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();

type Pending = 'sleep' | 'signal' | 'step' | 'child';

@Injectable()
class Payments {
  @Step({ name: 'Payments.charge' })
  async charge(id: string): Promise<string> {
    effects.enter('charge', id);
    return effects.leave('charge', id, `charged-${id}`);
  }

  @Step({ name: 'Payments.refund' })
  async refund(id: string): Promise<string> {
    effects.enter('refund', id);
    return effects.leave('refund', id, `refunded-${id}`);
  }

  @Step({ name: 'Payments.notify' })
  async notify(id: string): Promise<void> {
    effects.enter('notify', id);
  }

  /** A slow step that ends when its signal aborts (or after 30 s). */
  @Step({ name: 'Payments.slow' })
  async slow(id: string): Promise<string> {
    effects.enter('slow', id);
    const signal = stepSignal();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      signal?.addEventListener('abort', () => {
        effects.bump('slow-aborted', id);
        clearTimeout(timer);
        resolve();
      });
    });
    return effects.leave('slow', id, 'slow-done');
  }

  @Step({ name: 'Payments.ship' })
  async ship(id: string): Promise<string> {
    effects.enter('ship', id);
    return `shipped-${id}`;
  }
}

@Workflow({ name: 'Cancel.Child' })
class ChildWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly payments: Payments) {}
  async run(input: { id: string }, ctx: WorkflowContext): Promise<string> {
    try {
      await ctx.sleep('1h');
      return 'child-done';
    } catch (err) {
      await ctx.nonCancellable(() => this.payments.notify(`child-${input.id}`));
      throw err;
    }
  }
}

/** A saga: charge, then wait (how depends on `pending`), then ship; a cancel refunds in nonCancellable. */
@Workflow({ name: 'Cancel.Saga' })
class SagaWorkflow implements WorkflowDefinition<{ id: string; pending: Pending; pauseInCompensation?: boolean; swallow?: boolean }, string> {
  constructor(private readonly payments: Payments) {}
  async run(input: { id: string; pending: Pending; pauseInCompensation?: boolean; swallow?: boolean }, ctx: WorkflowContext): Promise<string> {
    effects.bump('saga-entered', input.id);
    await this.payments.charge(input.id);
    try {
      if (input.pending === 'sleep') await ctx.sleep('1h');
      if (input.pending === 'signal') await ctx.waitForSignal('paid');
      if (input.pending === 'step') await this.payments.slow(input.id);
      if (input.pending === 'child') await ctx.executeChild(ChildWorkflow, { id: input.id });
      return await this.payments.ship(input.id);
    } catch (err) {
      if (!(err instanceof WorkflowCancelledError)) throw err;
      effects.bump('saga-caught', input.id);
      effects.bump(`aborted-${String(ctx.signal.aborted)}`, input.id);
      // Outside nonCancellable every durable call is refused at once, without running.
      const refused = await rejectionOf(this.payments.ship(input.id));
      effects.bump(`refused-${(refused as Error).constructor.name}`, input.id);
      await ctx.nonCancellable(async () => {
        await this.payments.refund(input.id);
        if (input.pauseInCompensation) await ctx.sleep('300ms'); // parks: the rest runs on a replay
        await this.payments.notify(input.id);
      });
      if (input.swallow) return 'compensated';
      throw err;
    }
  }
}

/** Compensation that fails for good: the run ends FAILED with that error, not CANCELLED. */
@Workflow({ name: 'Cancel.BadCompensation' })
class BadCompensationWorkflow implements WorkflowDefinition<{ id: string }, string> {
  async run(_input: { id: string }, ctx: WorkflowContext): Promise<string> {
    try {
      await ctx.sleep('1h');
      return 'never';
    } catch {
      await ctx.nonCancellable(async () => undefined);
      throw new Error('refund gateway refused the refund');
    }
  }
}

@Workflow({ name: 'Cancel.Branches' })
class BranchesWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly payments: Payments) {}
  async run(input: { id: string }, ctx: WorkflowContext): Promise<string> {
    try {
      await ctx.parallel([() => ctx.sleep('1h'), () => this.payments.slow(input.id), () => ctx.waitForSignal('never')]);
      return 'never';
    } catch (err) {
      effects.bump(`branches-caught-${(err as Error).constructor.name}`, input.id);
      await ctx.nonCancellable(() => this.payments.refund(input.id));
      throw err;
    }
  }
}

@Workflow({ name: 'Cancel.Misuse' })
class MisuseWorkflow implements WorkflowDefinition<{ id: string }, string> {
  async run(_input: { id: string }, ctx: WorkflowContext): Promise<string> {
    const error = await rejectionOf(ctx.nonCancellable('not a function' as unknown as () => Promise<void>));
    return (error as Error).constructor.name;
  }
}

const PROVIDERS = [Payments, ChildWorkflow, SagaWorkflow, BadCompensationWorkflow, BranchesWorkflow, MisuseWorkflow];

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('cancellation');
  kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

beforeEach(() => effects.reset());

async function cancelledSaga(id: string, pending: Pending, waitFor: 'SLEEPING' | 'WAITING' | 'RUNNING', extra: { pauseInCompensation?: boolean; swallow?: boolean } = {}): Promise<string> {
  const handle = await kagzi.client.start(SagaWorkflow, { id, pending, ...extra });
  await waitForStatus(handle, waitFor);
  if (pending === 'step') await waitForEffect('slow', id);
  await kagzi.client.cancel(handle.runId, 'customer changed their mind');
  const error = await rejectionOf(handle.result({ timeout: '15s' }));
  expect(error).toBeInstanceOf(WorkflowCancelledError);
  expect((error as WorkflowCancelledError).reason).toBe('customer changed their mind');
  expect(await handle.status()).toBe('CANCELLED');
  return handle.runId;
}

function waitForEffect(name: string, subject: string): Promise<true> {
  return waitFor(`${name} of ${subject}`, () => effects.count(name, subject) > 0 || undefined);
}

function expectCompensatedOnce(id: string): void {
  expect(effects.count('charge', id)).toBe(1);
  expect(effects.count('saga-caught', id)).toBeGreaterThanOrEqual(1);
  expect(effects.count('refund', id)).toBe(1);
  expect(effects.count('notify', id)).toBe(1);
  expect(effects.count('ship', id)).toBe(0);
}

describe('a cancel reaches the workflow at its pending await', () => {
  it('during a durable sleep: the catch runs, compensation in nonCancellable executes once, the run ends CANCELLED', async () => {
    const runId = await cancelledSaga('sleep-1', 'sleep', 'SLEEPING');
    expectCompensatedOnce('sleep-1');
    expect(effects.count('aborted-true', 'sleep-1')).toBeGreaterThanOrEqual(1);
    expect(effects.count('refused-WorkflowCancelledError', 'sleep-1')).toBeGreaterThanOrEqual(1);
    const details = await kagzi.client.getRun(runId);
    expect(details.error).toMatchObject({ kind: 'CANCELLED', message: 'customer changed their mind' });
    expect(details.cancelRequestedAt).toBeInstanceOf(Date);
    expect(details.steps.map((s) => s.name)).toEqual(['Payments.charge', 'sleep', 'Payments.refund', 'Payments.notify']);
  });

  it('during a signal wait', async () => {
    await cancelledSaga('signal-1', 'signal', 'WAITING');
    expectCompensatedOnce('signal-1');
  });

  it('during a step: the await rejects at once, the step signal aborts, and the late result is not recorded', async () => {
    const runId = await cancelledSaga('step-1', 'step', 'RUNNING');
    expectCompensatedOnce('step-1');
    expect(effects.count('slow-aborted', 'step-1')).toBe(1);
    const steps = await sql<{ step_name: string; status: string }>(db.url, 'select step_name, status from kagzi.step_runs where workflow_run_id = $1 order by id', [runId]);
    expect(steps.filter((s) => s.step_name === 'Payments.slow')).toEqual([]);
  });

  it('during executeChild: the parent compensates and its child is cancelled and compensates too', async () => {
    const runId = await cancelledSaga('child-1', 'child', 'WAITING');
    expectCompensatedOnce('child-1');
    const details = await kagzi.client.getRun(runId);
    expect(details.children).toHaveLength(1);
    await waitFor('child cancelled', async () => (await kagzi.client.getHandle(details.children[0].runId).status()) === 'CANCELLED' || undefined);
    expect(effects.count('notify', 'child-child-1')).toBe(1);
  });

  it('compensation that parks (a sleep inside nonCancellable) resumes by replay: nothing runs twice', async () => {
    await cancelledSaga('pause-1', 'sleep', 'SLEEPING', { pauseInCompensation: true });
    expectCompensatedOnce('pause-1');
    // The workflow code ran again after the compensation's sleep, and replayed up to it from the records.
    expect(effects.count('saga-entered', 'pause-1')).toBeGreaterThanOrEqual(3);
  });

  it('a workflow that catches the cancel and returns still ends CANCELLED', async () => {
    await cancelledSaga('swallow-1', 'sleep', 'SLEEPING', { swallow: true });
    expectCompensatedOnce('swallow-1');
  });

  it('compensation that fails ends the run FAILED with its error', async () => {
    const handle = await kagzi.client.start(BadCompensationWorkflow, { id: 'bad' });
    await waitForStatus(handle, 'SLEEPING');
    await kagzi.client.cancel(handle.runId);
    const error = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).message).toContain('refund gateway refused the refund');
  });

  it('parallel branches each receive it; the group rejects with WorkflowCancelledError', async () => {
    const handle = await kagzi.client.start(BranchesWorkflow, { id: 'par' });
    await waitForEffect('slow', 'par');
    await kagzi.client.cancel(handle.runId);
    expect(await rejectionOf(handle.result({ timeout: '10s' }))).toBeInstanceOf(WorkflowCancelledError);
    expect(effects.count('branches-caught-WorkflowCancelledError', 'par')).toBeGreaterThanOrEqual(1);
    expect(effects.count('refund', 'par')).toBe(1);
  });

  it('a cancel whose notification was missed is delivered by the next heartbeat', async () => {
    const handle = await kagzi.client.start(SagaWorkflow, { id: 'beat', pending: 'step' });
    await waitForEffect('slow', 'beat');
    // Requested without NOTIFY, as if the worker's LISTEN connection had dropped.
    await sql(db.url, `update kagzi.workflow_runs set cancel_requested_at = now(), cancel_reason = 'quiet' where id = $1`, [handle.runId]);
    const error = await rejectionOf(handle.result({ timeout: '10s' }));
    expect((error as WorkflowCancelledError).reason).toBe('quiet');
    expectCompensatedOnce('beat');
  });
});

describe('cancel requests', () => {
  it('a run that never started ends CANCELLED at once, without running', async () => {
    const handle = await kagzi.client.start(SagaWorkflow, { id: 'never', pending: 'sleep' }, { delay: '1h' });
    await kagzi.client.cancel(handle.runId, 'not needed');
    expect(await handle.status()).toBe('CANCELLED');
    expect(effects.count('saga-entered', 'never')).toBe(0);
  });

  it('cancelling twice, or after the end, changes nothing', async () => {
    const handle = await kagzi.client.start(SagaWorkflow, { id: 'twice', pending: 'sleep' });
    await waitForStatus(handle, 'SLEEPING');
    await kagzi.client.cancel(handle.runId, 'first');
    await kagzi.client.cancel(handle.runId, 'second');
    expect(((await rejectionOf(handle.result({ timeout: '10s' }))) as WorkflowCancelledError).reason).toBe('first');
    await kagzi.client.cancel(handle.runId, 'third');
    expect(await handle.status()).toBe('CANCELLED');
    expectCompensatedOnce('twice');
  });

  it('ctx.nonCancellable without a function is a UsageError', async () => {
    const handle = await kagzi.client.start(MisuseWorkflow, { id: 'misuse' });
    expect(await handle.result({ timeout: '10s' })).toBe(UsageError.name);
  });
});
