/**
 * Events (SPEC §5.1): ctx.setEvent / client.getEvent against real PostgreSQL. The run_events table is read
 * to check a replay writes nothing again (set_at unchanged) and that each set is recorded once.
 */
import { Injectable } from '@nestjs/common';
import {
  InvalidOptionsError,
  RunNotFoundError,
  Step,
  Workflow,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
} from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, CallCounter, closeAllApps, delay, KagziTestApp, rejectionOf, sql, stepRows, waitForStatus } from './support/app';

const entries = new CallCounter();
/** The ctx of each running Misuse run, so its step body can (wrongly) reach it. */
const contexts = new Map<string, WorkflowContext>();

@Workflow({ name: 'Events.Progress' })
class ProgressWorkflow implements WorkflowDefinition<{ id: string }, string> {
  async run(_input: { id: string }, ctx: WorkflowContext): Promise<string> {
    await ctx.setEvent('stage', 'started');
    await ctx.setEvent('stage', { name: 'packed', parcels: 2 });
    await ctx.waitForSignal('go');
    await ctx.setEvent('tracking', 'TRK-1');
    await ctx.setEvent('stage', 'shipped');
    return 'done';
  }
}

@Workflow({ name: 'Events.AfterSleep' })
class AfterSleepWorkflow implements WorkflowDefinition<{ id: string }, string> {
  async run(input: { id: string }, ctx: WorkflowContext): Promise<string> {
    entries.bump('AfterSleep', input.id);
    await ctx.setEvent('first', 1);
    await ctx.sleep('500ms'); // parks: the first set replays from its record afterwards
    await ctx.setEvent('second', 2);
    return 'slept';
  }
}

@Workflow({ name: 'Events.Quiet' })
class QuietWorkflow implements WorkflowDefinition<{ id: string }, string> {
  async run(): Promise<string> {
    return 'nothing set';
  }
}

@Workflow({ name: 'Events.Huge' })
class HugeWorkflow implements WorkflowDefinition<{ id: string }, string> {
  async run(_input: { id: string }, ctx: WorkflowContext): Promise<string> {
    await ctx.setEvent('small', 'ok');
    await ctx.setEvent('big', 'x'.repeat(2 * 1024 * 1024));
    return 'unreachable';
  }
}

@Injectable()
class Reporter {
  @Step({ name: 'Reporter.report' })
  async report(runId: string): Promise<{ name: string; message: string }> {
    try {
      await contexts.get(runId)?.setEvent('from-step', 1);
      return { name: 'none', message: 'setEvent was accepted inside a step' };
    } catch (err: unknown) {
      return { name: (err as Error).constructor.name, message: (err as Error).message };
    }
  }
}

@Workflow({ name: 'Events.Misuse' })
class MisuseWorkflow implements WorkflowDefinition<{ id: string }, unknown> {
  constructor(private readonly reporter: Reporter) {}
  async run(_input: { id: string }, ctx: WorkflowContext): Promise<unknown> {
    contexts.set(ctx.runId, ctx);
    return this.reporter.report(ctx.runId);
  }
}

const PROVIDERS = [Reporter, ProgressWorkflow, AfterSleepWorkflow, QuietWorkflow, HugeWorkflow, MisuseWorkflow];

let db: TestDatabase;
let kagzi: KagziTestApp;

const eventRows = (runId: string): Promise<Array<{ key: string; value: unknown; set_at: Date }>> =>
  sql(db.url, 'select key, value, set_at from kagzi.run_events where workflow_run_id = $1 order by key', [runId]);

beforeAll(async () => {
  db = await createTestDatabase('events');
  kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

describe('setting and reading events', () => {
  it('getEvent returns the latest value set for the key; undefined at once for a key not set', async () => {
    const handle = await kagzi.client.start(ProgressWorkflow, { id: 'latest' });
    await waitForStatus(handle, 'WAITING');
    expect(await kagzi.client.getEvent(handle.runId, 'stage')).toEqual({ name: 'packed', parcels: 2 });
    const started = Date.now();
    expect(await kagzi.client.getEvent(handle.runId, 'tracking')).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(500);
    await kagzi.client.signal(handle.runId, 'go');
    expect(await handle.result({ timeout: '10s' })).toBe('done');
    expect(await kagzi.client.getEvent<string>(handle.runId, 'stage')).toBe('shipped');
    expect(await kagzi.client.getEvent<string>(handle.runId, 'tracking')).toBe('TRK-1');
    const steps = (await stepRows(db.url, handle.runId)).filter((s) => s.kind === 'EVENT');
    expect(steps.map((s) => s.step_name)).toEqual(['stage', 'stage', 'tracking', 'stage']);
    expect((await eventRows(handle.runId)).map((r) => r.key)).toEqual(['stage', 'tracking']);
  });

  it('getEvent with a timeout waits for a value the run sets after a signal, woken at once', async () => {
    const handle = await kagzi.client.start(ProgressWorkflow, { id: 'waiting' });
    await waitForStatus(handle, 'WAITING');
    const reading = kagzi.client.getEvent<string>(handle.runId, 'tracking', { timeout: '10s' });
    await delay(300);
    const sent = Date.now();
    await kagzi.client.signal(handle.runId, 'go');
    expect(await reading).toBe('TRK-1');
    expect(Date.now() - sent).toBeLessThan(2_000);
  });

  it('getEvent with a timeout waits for a value set after a durable sleep, from a client-only process', async () => {
    const clientOnly = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: false });
    const handle = await kagzi.client.start(AfterSleepWorkflow, { id: 'wait-sleep' });
    expect(await clientOnly.client.getEvent(handle.runId, 'second', { timeout: '10s' })).toBe(2);
    const resolved = Date.now();
    await clientOnly.close();
    // Woken by the notification, not by the next poll (a client-only process polls once a second).
    const second = (await eventRows(handle.runId)).find((r) => r.key === 'second');
    expect(resolved - second!.set_at.getTime()).toBeLessThan(300);
  });

  it('gives undefined once the timeout passed, and at once for a run that ended without the key', async () => {
    const live = await kagzi.client.start(QuietWorkflow, { id: 'later' }, { delay: '1h' });
    const started = Date.now();
    expect(await kagzi.client.getEvent(live.runId, 'never', { timeout: '400ms' })).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    await live.cancel();

    const ended = await kagzi.client.start(QuietWorkflow, { id: 'ended' });
    await ended.result({ timeout: '10s' });
    const asked = Date.now();
    expect(await kagzi.client.getEvent(ended.runId, 'never', { timeout: '10s' })).toBeUndefined();
    expect(Date.now() - asked).toBeLessThan(1_000);
  });

  it('refuses an unknown run with RunNotFoundError and a bad key or timeout with InvalidOptionsError', async () => {
    expect(await rejectionOf(kagzi.client.getEvent('00000000-0000-4000-8000-000000000000', 'stage'))).toBeInstanceOf(RunNotFoundError);
    expect(await rejectionOf(kagzi.client.getEvent('00000000-0000-4000-8000-000000000000', 'stage', { timeout: '1s' }))).toBeInstanceOf(RunNotFoundError);
    const live = await kagzi.client.start(QuietWorkflow, { id: 'refusals' }, { delay: '1h' });
    expect(await rejectionOf(kagzi.client.getEvent(live.runId, 'bad\u0000key'))).toBeInstanceOf(InvalidOptionsError);
    expect(await rejectionOf(kagzi.client.getEvent(live.runId, ''))).toBeInstanceOf(InvalidOptionsError);
    expect(await rejectionOf(kagzi.client.getEvent(live.runId, 'stage', { timeout: 'soon' as never }))).toBeInstanceOf(InvalidOptionsError);
    await live.cancel();
  });

  it('a replay does not write an event again: one record, set_at unchanged', async () => {
    const handle = await kagzi.client.start(AfterSleepWorkflow, { id: 'replay' });
    await waitForStatus(handle, 'SLEEPING');
    const [before] = await eventRows(handle.runId);
    expect(before).toMatchObject({ key: 'first', value: { json: 1 } });
    expect(await handle.result({ timeout: '10s' })).toBe('slept');
    expect(entries.get('AfterSleep', 'replay')).toBeGreaterThanOrEqual(2); // the code ran again after the sleep
    const after = await eventRows(handle.runId);
    expect(after.map((r) => r.key)).toEqual(['first', 'second']);
    expect(after[0].set_at.getTime()).toBe(before.set_at.getTime());
    const steps = (await stepRows(db.url, handle.runId)).filter((s) => s.kind === 'EVENT');
    expect(steps.map((s) => s.step_name)).toEqual(['first', 'second']);
  });

  it('ctx.setEvent inside a step body throws UsageError and writes nothing', async () => {
    const handle = await kagzi.client.start(MisuseWorkflow, { id: 'misuse' });
    expect(await handle.result({ timeout: '10s' })).toEqual({
      name: 'UsageError',
      message: expect.stringMatching(/^ctx\.setEvent\(\) was called inside a step body/),
    });
    expect(await eventRows(handle.runId)).toEqual([]);
  });

  it('a value over maxPayloadBytes fails the run with KAGZI_PAYLOAD_TOO_LARGE and is not stored', async () => {
    const handle = await kagzi.client.start(HugeWorkflow, { id: 'huge' });
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).error.code).toBe('KAGZI_PAYLOAD_TOO_LARGE');
    expect((err as WorkflowFailedError).error.message).toMatch(/event "big"/);
    expect((await eventRows(handle.runId)).map((r) => r.key)).toEqual(['small']);
    expect(await kagzi.client.getEvent(handle.runId, 'big')).toBeUndefined();
  });
});
