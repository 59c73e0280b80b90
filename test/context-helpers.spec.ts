/**
 * The workflow context's helpers and retry budget, against real PostgreSQL: ctx.now() and ctx.uuid()
 * recorded once (the same values after a durable sleep and after an app restart, NON_DETERMINISM when
 * the code calls the other one at a recorded position, refused inside a step body), stepInfo() inside
 * and outside a step, client.findRun by business id, RetryPolicy maxElapsed and maxAttempts Infinity,
 * and ctx.race with cancelLosers: false. Step bodies and workflow entries are counted in `effects`.
 */
import { Injectable } from '@nestjs/common';
import {
  ErrorKind,
  InvalidOptionsError,
  RetryPolicy,
  Step,
  StepError,
  stepInfo,
  StepInfo,
  stepSignal,
  TransientError,
  Workflow,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, delay, KagziTestApp, rejectionOf, sql, stepRows, waitForStatus } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();
/** What each execution of a workflow saw from ctx.now() / ctx.uuid(), per subject. */
const seen = new Map<string, Array<{ now: Date; uuid: string }>>();
/** The ctx of a run by subject, so a step body can try to call it (which is refused). */
const contexts = new Map<string, WorkflowContext>();
/** Flipped by the determinism test: "a deploy" swapped ctx.now() for ctx.uuid(). */
let drifted = false;

@Injectable()
class HelperSteps {
  @Step({ name: 'Helpers.touch' })
  async touch(id: string): Promise<string> {
    effects.enter('Helpers.touch', id);
    return id;
  }

  // Fails its first attempt, so the second one reports attempt 2.
  @Step({ name: 'Helpers.flaky', retry: RetryPolicy.fixed({ maxAttempts: 3, interval: '20ms' }) })
  async flaky(id: string): Promise<StepInfo> {
    const info = stepInfo();
    if (!info) throw new Error('stepInfo() was undefined inside a step');
    effects.enter('Helpers.flaky', id);
    effects.leave('Helpers.flaky', `${id}:attempt${info.attempt}`, info);
    if (info.attempt === 1) throw new TransientError('first attempt fails');
    return info;
  }

  @Step({ name: 'Helpers.clockInside' })
  async clockInside(id: string): Promise<Array<{ name: string; message: string }>> {
    const ctx = contexts.get(id)!;
    const refused: Array<{ name: string; message: string }> = [];
    for (const call of [() => ctx.now(), () => ctx.uuid()]) {
      try {
        await call();
      } catch (err: unknown) {
        refused.push({ name: (err as Error).name, message: (err as Error).message });
      }
    }
    return refused;
  }

  @Step({ name: 'Helpers.budget', retry: RetryPolicy.fixed({ maxAttempts: Infinity, interval: '50ms', maxElapsed: '300ms' }) })
  async budget(id: string): Promise<never> {
    const n = effects.enter('Helpers.budget', id);
    return effects.fail('Helpers.budget', id, new TransientError(`still down (attempt ${n})`, { code: 'STILL_DOWN' }));
  }

  @Step({ name: 'Helpers.untilFifth', retry: RetryPolicy.exponential({ maxAttempts: Infinity, initialInterval: '10ms', maxInterval: '40ms', jitter: 0 }) })
  async untilFifth(id: string): Promise<number> {
    const n = effects.enter('Helpers.untilFifth', id);
    if (n < 5) throw new TransientError(`not yet (attempt ${n})`);
    return n;
  }

  @Step({ name: 'Helpers.slow' })
  async slow(subject: string, ms: number): Promise<string> {
    effects.enter('Helpers.slow', subject);
    effects.keepSignal('Helpers.slow', subject, stepSignal());
    await delay(ms); // ignores the signal on purpose: whether the body's result is recorded is what counts
    return effects.leave('Helpers.slow', subject, `${subject} done`);
  }
}

@Workflow({ name: 'helpers-clock' })
class ClockWorkflow implements WorkflowDefinition<{ id: string; pause: string }, { now: string; uuid: string; later: string }> {
  async run(input: { id: string; pause: string }, ctx: WorkflowContext): Promise<{ now: string; uuid: string; later: string }> {
    effects.enterRun('helpers-clock', input.id);
    const now = await ctx.now();
    const uuid = await ctx.uuid();
    seen.set(input.id, [...(seen.get(input.id) ?? []), { now, uuid }]);
    await ctx.sleep(input.pause as '1s');
    const later = await ctx.now();
    return { now: now.toISOString(), uuid, later: later.toISOString() };
  }
}

@Workflow({ name: 'helpers-drift' })
class DriftWorkflow implements WorkflowDefinition<{ id: string }, string> {
  async run(input: { id: string }, ctx: WorkflowContext): Promise<string> {
    effects.enterRun('helpers-drift', input.id);
    const value = drifted ? await ctx.uuid() : (await ctx.now()).toISOString();
    await ctx.sleep('400ms');
    return value;
  }
}

@Workflow({ name: 'helpers-info' })
class InfoWorkflow implements WorkflowDefinition<{ id: string }, { info: StepInfo; outside: StepInfo | null; refused: unknown }> {
  constructor(private readonly steps: HelperSteps) {}

  async run(input: { id: string }, ctx: WorkflowContext): Promise<{ info: StepInfo; outside: StepInfo | null; refused: unknown }> {
    contexts.set(input.id, ctx);
    const info = await this.steps.flaky(input.id);
    const refused = await this.steps.clockInside(input.id);
    return { info, outside: stepInfo() ?? null, refused };
  }
}

@Workflow({ name: 'helpers-echo' })
class EchoWorkflow implements WorkflowDefinition<string, string> {
  async run(input: string): Promise<string> {
    return input;
  }
}

@Workflow({ name: 'helpers-budget' })
class BudgetWorkflow implements WorkflowDefinition<{ id: string }, never> {
  constructor(private readonly steps: HelperSteps) {}

  run(input: { id: string }): Promise<never> {
    return this.steps.budget(input.id);
  }
}

@Workflow({ name: 'helpers-forever' })
class ForeverWorkflow implements WorkflowDefinition<{ id: string }, number> {
  constructor(private readonly steps: HelperSteps) {}

  run(input: { id: string }): Promise<number> {
    return this.steps.untilFifth(input.id);
  }
}

@Workflow({ name: 'helpers-race' })
class RaceWorkflow implements WorkflowDefinition<{ id: string; cancelLosers?: boolean }, { index: number; value: string }> {
  constructor(private readonly steps: HelperSteps) {}

  async run(input: { id: string; cancelLosers?: boolean }, ctx: WorkflowContext): Promise<{ index: number; value: string }> {
    effects.enterRun('helpers-race', input.id);
    const options = input.cancelLosers === undefined ? undefined : { cancelLosers: input.cancelLosers };
    const won = await ctx.race([() => this.steps.slow(`${input.id}:fast`, 20), () => this.steps.slow(`${input.id}:loser`, 300)], options);
    // Long enough for the loser to end while the run is still in this worker.
    await ctx.sleep('700ms');
    return won;
  }
}

class NotAWorkflow {}

const providers = [HelperSteps, ClockWorkflow, DriftWorkflow, InfoWorkflow, EchoWorkflow, BudgetWorkflow, ForeverWorkflow, RaceWorkflow];

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('context-helpers');
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

describe('in one app', () => {
  let kagzi: KagziTestApp;

  beforeAll(async () => {
    kagzi = await bootKagzi({ url: db.url, providers });
  });

  afterAll(async () => {
    await kagzi?.close();
  });

  it('ctx.now() and ctx.uuid() return the recorded values when the run replays after a durable sleep', async () => {
    const handle = await kagzi.client.start(ClockWorkflow, { id: 'sleep', pause: '300ms' });
    const out = await handle.result({ timeout: '10s' });

    expect(effects.runEntries('helpers-clock', 'sleep')).toBe(2); // the sleep parked the run; it resumed by replay
    const [first, replayed] = seen.get('sleep')!;
    expect(replayed.now).toBeInstanceOf(Date);
    expect(replayed.now.getTime()).toBe(first.now.getTime());
    expect(replayed.uuid).toBe(first.uuid);
    expect(first.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(out).toEqual({ now: first.now.toISOString(), uuid: first.uuid, later: expect.any(String) });
    expect(new Date(out.later).getTime() - first.now.getTime()).toBeGreaterThanOrEqual(300); // read after the sleep, not replayed from the first
    const rows = await stepRows(db.url, handle.runId);
    expect(rows.filter((r) => r.kind === 'STEP').map((r) => [r.step_key, r.step_name, r.status])).toEqual([
      ['$value#1', 'ctx.now', 'COMPLETED'],
      ['$value#2', 'ctx.uuid', 'COMPLETED'],
      ['$value#3', 'ctx.now', 'COMPLETED'],
    ]);
  });

  it('fails with NON_DETERMINISM naming both calls when a replay calls ctx.uuid() where ctx.now() was recorded', async () => {
    drifted = false;
    const handle = await kagzi.client.start(DriftWorkflow, { id: 'drift' });
    await waitForStatus(handle, 'SLEEPING');
    drifted = true; // "a deploy" while the run sleeps
    try {
      const err = await rejectionOf(handle.result({ timeout: '10s' }));
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const failure = (err as WorkflowFailedError).error;
      expect(failure.kind).toBe(ErrorKind.NonDeterminism);
      expect(failure.stepName).toBe('ctx.uuid');
      expect(failure.message).toContain('"ctx.now" was recorded there');
      expect(effects.runEntries('helpers-drift', 'drift')).toBe(2);
      const rows = await stepRows(db.url, handle.runId);
      expect(rows.filter((r) => r.kind === 'STEP').map((r) => r.step_name)).toEqual(['ctx.now']); // no uuid recorded
    } finally {
      drifted = false;
    }
  });

  it('stepInfo() names the run, step and attempt inside a step (attempt 2 after a retry), undefined outside; ctx.now/uuid are refused in a step', async () => {
    const handle = await kagzi.client.start(InfoWorkflow, { id: 'info' });
    const out = await handle.result({ timeout: '10s' });

    const expected = { runId: handle.runId, workflowName: 'helpers-info', version: 1, stepKey: 'Helpers.flaky#1', stepName: 'Helpers.flaky' };
    expect(out.info).toEqual({ ...expected, attempt: 2 });
    expect(effects.value('Helpers.flaky', 'info:attempt1')).toEqual({ ...expected, attempt: 1 });
    expect(effects.count('Helpers.flaky', 'info')).toBe(2);
    expect(out.outside).toBeNull();
    expect(stepInfo()).toBeUndefined(); // outside any run
    expect(out.refused).toEqual([
      { name: 'UsageError', message: expect.stringMatching(/^ctx\.now\(\) was called inside a step body/) },
      { name: 'UsageError', message: expect.stringMatching(/^ctx\.uuid\(\) was called inside a step body/) },
    ]);
  });

  it('findRun() returns the handle of the run started with a business id, undefined for an unknown one, and never starts a run', async () => {
    const started = await kagzi.client.start(EchoWorkflow, 'order-42', { idempotencyKey: 'order-42' });
    await started.result({ timeout: '10s' });
    const before = await kagzi.client.countRuns();

    const byClass = await kagzi.client.findRun(EchoWorkflow, 'order-42');
    const byName = await kagzi.client.findRun('helpers-echo', 'order-42');
    expect(byClass?.runId).toBe(started.runId);
    expect(byName?.runId).toBe(started.runId);
    expect(await byName!.result()).toBe('order-42');

    expect(await kagzi.client.findRun(EchoWorkflow, 'order-43')).toBeUndefined();
    expect(await kagzi.client.findRun(ClockWorkflow, 'order-42')).toBeUndefined(); // keys belong to one workflow
    expect(await kagzi.client.findRun('helpers-unknown', 'order-42')).toBeUndefined();
    expect(await kagzi.client.countRuns()).toBe(before);
  });

  it.each([
    ['an empty key', () => kagzi.client.findRun(EchoWorkflow, ''), InvalidOptionsError],
    ['a key over 512 characters', () => kagzi.client.findRun(EchoWorkflow, 'k'.repeat(513)), InvalidOptionsError],
    ['a key with a NUL character', () => kagzi.client.findRun(EchoWorkflow, 'a\u0000b'), InvalidOptionsError],
    ['a key that is not a string', () => kagzi.client.findRun(EchoWorkflow, 42 as never), InvalidOptionsError],
    ['an empty workflow name', () => kagzi.client.findRun('', 'order-42'), InvalidOptionsError],
    ['a class that is not a @Workflow', () => kagzi.client.findRun(NotAWorkflow as never, 'order-42'), WorkflowNotFoundError],
  ])('findRun() refuses %s with a typed error', async (_what, call, type) => {
    expect(await rejectionOf(call())).toBeInstanceOf(type);
  });

  it('maxElapsed stops the retries of an always-failing step: no attempt starts later than 300 ms after the first, then the run fails', async () => {
    const handle = await kagzi.client.start(BudgetWorkflow, { id: 'budget' });
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).error;
    expect(failure).toBeInstanceOf(StepError);
    expect(failure.code).toBe('STILL_DOWN');

    const attempts = await sql<{ attempt: number; started_at: Date }>(
      db.url,
      'select attempt, started_at from kagzi.step_attempts where workflow_run_id = $1 order by attempt',
      [handle.runId],
    );
    const n = effects.count('Helpers.budget', 'budget');
    expect(attempts).toHaveLength(n); // every execution recorded, none after the run failed
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(7); // 300 ms / 50 ms, plus the first
    expect(failure.attempt).toBe(n);
    const first = attempts[0].started_at.getTime();
    const last = attempts[n - 1].started_at.getTime();
    // Each retry is scheduled within the budget; a claim may start it a little after its due time.
    expect(last - first).toBeLessThanOrEqual(300 + 150);
    expect(last - first).toBeGreaterThanOrEqual(150); // it did not give up early either
    await delay(300);
    expect(effects.count('Helpers.budget', 'budget')).toBe(n); // and nothing ran afterwards
  });

  it('maxAttempts Infinity retries past the default count until the step succeeds', async () => {
    const handle = await kagzi.client.start(ForeverWorkflow, { id: 'forever' });
    expect(await handle.result({ timeout: '10s' })).toBe(5);
    expect(effects.count('Helpers.untilFifth', 'forever')).toBe(5);
  });

  it('ctx.race with cancelLosers: false lets the loser run to its end and records it; the race settles with the first', async () => {
    const handle = await kagzi.client.start(RaceWorkflow, { id: 'keep', cancelLosers: false });
    expect(await handle.result({ timeout: '10s' })).toEqual({ index: 0, value: 'keep:fast done' });

    expect(effects.count('Helpers.slow', 'keep:loser')).toBe(1);
    expect(effects.hasEnded('Helpers.slow', 'keep:loser')).toBe(true);
    expect(effects.signal('Helpers.slow', 'keep:loser')!.aborted).toBe(false);
    expect(effects.runEntries('helpers-race', 'keep')).toBe(2); // replayed after the sleep: the loser was not run again
    const rows = await stepRows(db.url, handle.runId);
    expect(rows.filter((r) => r.kind === 'STEP').map((r) => [r.step_key, r.status]).sort()).toEqual([
      ['$race#1[0]/Helpers.slow#1', 'COMPLETED'],
      ['$race#1[1]/Helpers.slow#1', 'COMPLETED'],
    ]);
  });

  it('ctx.race by default aborts the loser, whose result is not recorded', async () => {
    const handle = await kagzi.client.start(RaceWorkflow, { id: 'cancel' });
    expect(await handle.result({ timeout: '10s' })).toEqual({ index: 0, value: 'cancel:fast done' });

    expect(effects.signal('Helpers.slow', 'cancel:loser')!.aborted).toBe(true);
    const rows = await stepRows(db.url, handle.runId);
    expect(rows.filter((r) => r.kind === 'STEP').map((r) => [r.step_key, r.status])).toEqual([['$race#1[0]/Helpers.slow#1', 'COMPLETED']]);
  });
});

describe('across an app restart', () => {
  it('ctx.now() and ctx.uuid() keep their recorded values when another app resumes the run', async () => {
    const first = await bootKagzi({ url: db.url, providers });
    const handle = await first.client.start(ClockWorkflow, { id: 'restart', pause: '1s' });
    await waitForStatus(handle, 'SLEEPING');
    await first.close();

    const second = await bootKagzi({ url: db.url, providers });
    const out = await second.client.getHandle<{ now: string; uuid: string; later: string }>(handle.runId).result({ timeout: '10s' });
    await second.close();

    const [before, after] = seen.get('restart')!;
    expect(effects.runEntries('helpers-clock', 'restart')).toBe(2);
    expect(after.now.getTime()).toBe(before.now.getTime());
    expect(after.uuid).toBe(before.uuid);
    expect(out.uuid).toBe(before.uuid);
    expect(out.now).toBe(before.now.toISOString());
  });
});
