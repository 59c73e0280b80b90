/**
 * Signals (SPEC §5.1): client.signal / signalWithStart and ctx.waitForSignal against real PostgreSQL.
 * Payloads are counted as the workflow sees them, and the signals table is read to check each one was
 * consumed once.
 */
import { Injectable } from '@nestjs/common';
import {
  ErrorKind,
  InvalidOptionsError,
  PayloadTooLargeError,
  RunNotActiveError,
  RunNotFoundError,
  Step,
  Workflow,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
} from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, CallCounter, closeAllApps, KagziTestApp, rejectionOf, sql, waitForStatus } from './support/app';

const entries = new CallCounter();
/** Which signal name the Switching workflow waits for (changed between two apps to break determinism). */
let switchingName = 'approve';

@Injectable()
class Shipping {
  @Step({ name: 'Shipping.pack' })
  async pack(id: string): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return `packed-${id}`;
  }
}

@Workflow({ name: 'Signals.Twice' })
class TwiceWorkflow implements WorkflowDefinition<{ id: string }, unknown[]> {
  async run(input: { id: string }, ctx: WorkflowContext): Promise<unknown[]> {
    entries.bump('Twice', input.id);
    return [await ctx.waitForSignal('go'), await ctx.waitForSignal('go')];
  }
}

@Workflow({ name: 'Signals.Timeout' })
class TimeoutWorkflow implements WorkflowDefinition<{ id: string }, unknown> {
  async run(_input: { id: string }, ctx: WorkflowContext): Promise<unknown> {
    const got = await ctx.waitForSignal('never', { timeout: '400ms' });
    return { got: got === undefined ? 'undefined' : got };
  }
}

@Workflow({ name: 'Signals.Replay' })
class ReplayWorkflow implements WorkflowDefinition<{ id: string }, unknown> {
  async run(input: { id: string }, ctx: WorkflowContext): Promise<unknown> {
    entries.bump('Replay', input.id);
    const first = await ctx.waitForSignal<{ n: number }>('x');
    await ctx.sleep('300ms'); // parks: the wait replays from its record afterwards
    return first;
  }
}

@Workflow({ name: 'Signals.Many' })
class ManyWorkflow implements WorkflowDefinition<{ count: number }, number[]> {
  async run(input: { count: number }, ctx: WorkflowContext): Promise<number[]> {
    const seen: number[] = [];
    for (let i = 0; i < input.count; i++) seen.push((await ctx.waitForSignal<number>('n')) as number);
    return seen;
  }
}

@Workflow({ name: 'Signals.Branch' })
class BranchWorkflow implements WorkflowDefinition<{ id: string }, unknown[]> {
  constructor(private readonly shipping: Shipping) {}
  async run(input: { id: string }, ctx: WorkflowContext): Promise<unknown[]> {
    return ctx.parallel([() => ctx.waitForSignal('paid', { timeout: '10s' }), () => this.shipping.pack(input.id)]);
  }
}

@Workflow({ name: 'Signals.Switching' })
class SwitchingWorkflow implements WorkflowDefinition<{ id: string }, unknown> {
  async run(_input: { id: string }, ctx: WorkflowContext): Promise<unknown> {
    const got = await ctx.waitForSignal(switchingName);
    await ctx.sleep('300ms');
    return got;
  }
}

const PROVIDERS = [Shipping, TwiceWorkflow, TimeoutWorkflow, ReplayWorkflow, ManyWorkflow, BranchWorkflow, SwitchingWorkflow];

let db: TestDatabase;
let kagzi: KagziTestApp;

const signalRows = (runId: string): Promise<Array<{ name: string; consumed: boolean }>> =>
  sql(db.url, 'select name, consumed_at is not null as consumed from kagzi.signals where workflow_run_id = $1 order by id', [runId]);

beforeAll(async () => {
  db = await createTestDatabase('signals');
  kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

describe('waiting for a signal', () => {
  it('signals sent before the wait are kept and taken in order', async () => {
    const handle = await kagzi.client.start(TwiceWorkflow, { id: 'early' }, { delay: '400ms' });
    await kagzi.client.signal(handle.runId, 'go', { n: 1 });
    await kagzi.client.signal(handle.runId, 'go', { n: 2 });
    expect(await handle.result({ timeout: '10s' })).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await signalRows(handle.runId)).toEqual([
      { name: 'go', consumed: true },
      { name: 'go', consumed: true },
    ]);
  });

  it('a run waits WAITING (lease released) and a signal makes it go on at once', async () => {
    const handle = await kagzi.client.start(TwiceWorkflow, { id: 'late' });
    await waitForStatus(handle, 'WAITING');
    const [row] = await sql<{ lease_owner: string | null }>(db.url, 'select lease_owner from kagzi.workflow_runs where id = $1', [handle.runId]);
    expect(row.lease_owner).toBeNull();
    await kagzi.client.signal(handle.runId, 'go', 'first');
    await kagzi.client.signal(handle.runId, 'go'); // an undefined payload is stored as null
    const started = Date.now();
    expect(await handle.result({ timeout: '10s' })).toEqual(['first', null]);
    expect(Date.now() - started).toBeLessThan(2_000);
    const details = await kagzi.client.getRun(handle.runId);
    expect(details.signals.map((s) => [s.name, s.payload, s.consumedAt instanceof Date])).toEqual([
      ['go', 'first', true],
      ['go', null, true],
    ]);
  });

  it('gives undefined once the timeout passed', async () => {
    const handle = await kagzi.client.start(TimeoutWorkflow, { id: 't' });
    expect(await handle.result({ timeout: '10s' })).toEqual({ got: 'undefined' });
  });

  it('a replay returns the recorded payload and never consumes a second signal', async () => {
    const handle = await kagzi.client.start(ReplayWorkflow, { id: 'r' });
    await waitForStatus(handle, 'WAITING');
    await kagzi.client.signal(handle.runId, 'x', { n: 1 });
    await waitForStatus(handle, 'SLEEPING');
    await kagzi.client.signal(handle.runId, 'x', { n: 2 }); // kept for a later wait
    expect(await handle.result({ timeout: '10s' })).toEqual({ n: 1 });
    expect(entries.get('Replay', 'r')).toBeGreaterThanOrEqual(2);
    expect(await signalRows(handle.runId)).toEqual([
      { name: 'x', consumed: true },
      { name: 'x', consumed: false },
    ]);
  });

  it('100 signals sent at once to a run that takes 100: each payload seen exactly once', async () => {
    const handle = await kagzi.client.start(ManyWorkflow, { count: 100 });
    await Promise.all(Array.from({ length: 100 }, (_, i) => kagzi.client.signal(handle.runId, 'n', i)));
    const seen = await handle.result({ timeout: '30s' });
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('a wait in a parallel branch beside a busy step takes its signal in process', async () => {
    const handle = await kagzi.client.start(BranchWorkflow, { id: 'b' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await kagzi.client.signal(handle.runId, 'paid', 'ok');
    expect(await handle.result({ timeout: '10s' })).toEqual(['ok', 'packed-b']);
  });

  it('survives a restart while WAITING', async () => {
    const first = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'restart-1' } });
    await kagzi.close(); // only the new app's worker serves now
    const handle = await first.client.start(TwiceWorkflow, { id: 'restart' });
    await waitForStatus(handle, 'WAITING');
    await first.close();
    kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
    await kagzi.client.signal(handle.runId, 'go', 1);
    await kagzi.client.signal(handle.runId, 'go', 2);
    expect(await kagzi.client.getHandle(handle.runId).result({ timeout: '10s' })).toEqual([1, 2]);
  });

  it('a replay that waits for another signal name at a recorded position fails with NON_DETERMINISM', async () => {
    switchingName = 'approve';
    const handle = await kagzi.client.start(SwitchingWorkflow, { id: 's' });
    await waitForStatus(handle, 'WAITING');
    await kagzi.client.signal(handle.runId, 'approve', 'yes');
    await waitForStatus(handle, 'SLEEPING');
    switchingName = 'reject';
    const err = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).error.kind).toBe(ErrorKind.NonDeterminism);
    expect((err as WorkflowFailedError).error.message).toMatch(/a wait for signal "approve" was recorded there/);
  });
});

describe('sending signals', () => {
  it('refuses unknown runs, ended runs, bad names and oversized payloads with typed errors', async () => {
    expect(await rejectionOf(kagzi.client.signal('00000000-0000-4000-8000-000000000000', 'go'))).toBeInstanceOf(RunNotFoundError);
    const ended = await kagzi.client.start(TimeoutWorkflow, { id: 'ended' });
    await ended.result({ timeout: '10s' });
    expect(await rejectionOf(kagzi.client.signal(ended.runId, 'go'))).toBeInstanceOf(RunNotActiveError);
    const live = await kagzi.client.start(TwiceWorkflow, { id: 'refusals' }, { delay: '1h' });
    expect(await rejectionOf(kagzi.client.signal(live.runId, 'bad\u0000name'))).toBeInstanceOf(InvalidOptionsError);
    expect(await rejectionOf(kagzi.client.signal(live.runId, 'go', 'x'.repeat(2 * 1024 * 1024)))).toBeInstanceOf(PayloadTooLargeError);
    expect(await rejectionOf(kagzi.client.signal({ workflow: TwiceWorkflow, idempotencyKey: 'no-such-key' }, 'go'))).toBeInstanceOf(RunNotFoundError);
    expect(await signalRows(live.runId)).toEqual([]);
    await live.cancel();
  });

  it('signalWithStart starts the run for a new key and signals the existing run for a known one', async () => {
    const first = await kagzi.client.signalWithStart(TwiceWorkflow, { id: 'sws' }, { name: 'go', payload: 'a' }, { idempotencyKey: 'order-42' });
    const second = await kagzi.client.signalWithStart(TwiceWorkflow, { id: 'ignored' }, { name: 'go', payload: 'b' }, { idempotencyKey: 'order-42' });
    expect(second.runId).toBe(first.runId);
    expect(await first.result({ timeout: '10s' })).toEqual(['a', 'b']);
    expect(entries.get('Twice', 'ignored')).toBe(0);
    await kagzi.client.signal({ workflow: 'Signals.Twice', idempotencyKey: 'order-42' }, 'go').then(
      () => {
        throw new Error('expected RunNotActiveError');
      },
      (err: unknown) => expect(err).toBeInstanceOf(RunNotActiveError),
    );
  });
});
