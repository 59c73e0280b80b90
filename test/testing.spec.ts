/**
 * `@kagzi/nestjs/testing` (SPEC §5.6): a testing app on a fresh schema of its own, and time skipping —
 * a 30-day sleep, an hour's retry back-off, a day's delayed start and a week's signal timeout pass in
 * milliseconds of real time, `ctx.now()` reads the skipped-to time, a step's service is overridden with
 * Nest's overrideProvider, and close() drops the schema.
 */
import { Injectable } from '@nestjs/common';
import { RetryPolicy, Step, TransientError, UsageError, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { KagziTesting } from '@kagzi/nestjs/testing';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from './support/database';
import { deferred, waitFor, waitForStatus } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();
const DAY = 24 * 60 * 60 * 1000;
const gate = deferred();

@Injectable()
class Billing {
  @Step({ retry: RetryPolicy.fixed({ interval: '1h', maxAttempts: 3 }) })
  async charge(id: string): Promise<string> {
    if (effects.enter('charge', id) === 1) throw new TransientError('gateway busy');
    return `charged ${id}`;
  }

  /** Holds until the test opens `gate`. */
  @Step()
  async slowly(id: string): Promise<string> {
    effects.enter('slowly', id);
    await gate.promise;
    return `slow ${id}`;
  }

  @Step()
  async remind(id: string): Promise<string> {
    effects.enter('remind', id);
    return `reminded ${id}`;
  }
}

/** Charges (retried after an hour), sleeps 30 days, then reminds; returns what ctx.now() read around the sleep. */
@Workflow({ name: 'Subscription', version: 1 })
class SubscriptionWorkflow implements WorkflowDefinition<string, { charged: string; sleptMs: number; reminded: string }> {
  constructor(private readonly billing: Billing) {}
  async run(id: string, ctx: WorkflowContext) {
    const charged = await this.billing.charge(id);
    const before = await ctx.now();
    await ctx.sleep('30d');
    const after = await ctx.now();
    return { charged, sleptMs: after.getTime() - before.getTime(), reminded: await this.billing.remind(id) };
  }
}

/** One branch sleeps an hour while the other holds a step: the sleep waits in the worker, not parked. */
@Workflow({ name: 'SleepBeside', version: 1 })
class SleepBesideWorkflow implements WorkflowDefinition<string, string[]> {
  constructor(private readonly billing: Billing) {}
  async run(id: string, ctx: WorkflowContext): Promise<string[]> {
    return ctx.parallel([
      async () => {
        await ctx.sleep('1h');
        return this.billing.remind(id);
      },
      () => this.billing.slowly(id),
    ]);
  }
}

/** Hourly: a tick of its schedule starts a run. */
@Workflow({ name: 'HourlyReport', version: 1, schedule: '0 * * * *' })
class HourlyReportWorkflow implements WorkflowDefinition<{ scheduledAt: Date }, string> {
  async run(input: { scheduledAt: Date }): Promise<string> {
    return `report of ${new Date(input.scheduledAt).toISOString()}`;
  }
}

/** Waits a week for an approval, then gives up. */
@Workflow({ name: 'Approval', version: 1 })
class ApprovalWorkflow implements WorkflowDefinition<string, string> {
  async run(id: string, ctx: WorkflowContext): Promise<string> {
    const answer = await ctx.waitForSignal<string>('answer', { timeout: '7d' });
    return answer ?? `${id}: timed out`;
  }
}

let db: TestDatabase;
let kt: KagziTesting;

beforeAll(async () => {
  db = await createTestDatabase('testing_helpers');
  kt = await KagziTesting.create({ providers: [Billing, SubscriptionWorkflow, ApprovalWorkflow, SleepBesideWorkflow], options: { database: { url: db.url } } });
});

afterAll(async () => {
  await kt?.close();
  await db?.drop();
});

test('a back-off of an hour and a sleep of 30 days pass in milliseconds; ctx.now() reads the skipped-to time', async () => {
  const started = Date.now();
  const handle = await kt.client.start(SubscriptionWorkflow, 'sub-1');
  // charge failed once: the run is parked for an hour until attempt 2
  await expectSoon(() => effects.count('charge', 'sub-1') === 1);
  await waitForStatus(handle, 'SLEEPING');
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(effects.count('charge', 'sub-1')).toBe(1);
  await kt.clock.advance('1h');
  await expectSoon(() => effects.count('charge', 'sub-1') === 2);
  await waitFor('the 30-day sleep', async () => (await kt.client.getRun(handle.runId)).steps.some((s) => s.kind === 'SLEEP'));
  expect(effects.count('remind', 'sub-1')).toBe(0);
  await kt.clock.advance('29d'); // not enough
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await handle.status()).toBe('SLEEPING');
  await kt.clock.advance('1d');
  const result = await handle.result({ timeout: '10s' });
  expect(result.charged).toBe('charged sub-1');
  expect(result.reminded).toBe('reminded sub-1');
  expect(result.sleptMs).toBeGreaterThanOrEqual(30 * DAY);
  expect(result.sleptMs).toBeLessThan(30 * DAY + 60_000);
  expect(Date.now() - started).toBeLessThan(15_000);
});

test('a delayed start of a day and a signal timeout of a week pass at once', async () => {
  const handle = await kt.client.start(ApprovalWorkflow, 'ap-1', { delay: '1d' });
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(await handle.status()).toBe('PENDING');
  await kt.clock.advance('1d');
  await waitForStatus(handle, 'WAITING');
  await kt.clock.advance('7d');
  await expect(handle.result({ timeout: '10s' })).resolves.toBe('ap-1: timed out');
});

test('a sleep waiting in the worker (beside a running step) ends when the clock skips past it', async () => {
  const handle = await kt.client.start(SleepBesideWorkflow, 'side-1');
  await expectSoon(() => effects.count('slowly', 'side-1') === 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(effects.count('remind', 'side-1')).toBe(0);
  await kt.clock.advance('1h');
  await expectSoon(() => effects.count('remind', 'side-1') === 1); // while the other step still holds
  gate.resolve();
  await expect(handle.result({ timeout: '10s' })).resolves.toEqual(['reminded side-1', 'slow side-1']);
});

test('a schedule tick comes when the clock skips past it (the latest tick of the window; late ticks coalesce)', async () => {
  const sched = await KagziTesting.create({ providers: [HourlyReportWorkflow], options: { database: { url: db.url } } });
  try {
    await scheduleTicks(sched);
  } finally {
    await sched.close();
  }
});

async function scheduleTicks(kt: KagziTesting): Promise<void> {
  const runs = async () => (await kt.client.listRuns({ name: 'HourlyReport' })).items;
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(await runs()).toEqual([]);
  await kt.clock.advance('1h');
  const [first] = await waitFor('a scheduled run', async () => ((await runs()).length === 1 ? runs() : undefined));
  const result = await kt.client.getHandle<string>(first.runId).result({ timeout: '10s' });
  const tick = new Date(result.replace('report of ', ''));
  expect(tick.getUTCMinutes()).toBe(0);
  expect(tick.getTime()).toBeLessThanOrEqual(kt.clock.now().getTime());
  expect(tick.getTime()).toBeGreaterThan(kt.clock.now().getTime() - 60 * 60 * 1000);
  await kt.clock.advance('3h');
  await waitFor('a second scheduled run', async () => (await runs()).length === 2);
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(await runs()).toHaveLength(2);
}

test("overrideProvider replaces a step's service; close() drops the schema", async () => {
  @Injectable()
  class FakeBilling extends Billing {
    @Step()
    override async charge(id: string): Promise<string> {
      return `fake charge ${id}`;
    }
  }
  const other = await KagziTesting.create({
    providers: [Billing, SubscriptionWorkflow],
    options: { database: { url: db.url } },
    override: (builder) => builder.overrideProvider(Billing).useClass(FakeBilling),
  });
  try {
    expect(other.schema).not.toBe(kt.schema);
    const handle = await other.client.start(SubscriptionWorkflow, 'sub-2');
    await waitForStatus(handle, 'SLEEPING');
    await other.clock.advance('30d');
    await expect(handle.result({ timeout: '10s' })).resolves.toMatchObject({ charged: 'fake charge sub-2' });
    expect(effects.count('charge', 'sub-2')).toBe(0);
  } finally {
    await other.close();
  }
  const before = kt.clock.now().getTime();
  await expect(other.clock.advance('5h')).rejects.toThrow(UsageError); // closed: refused, and the clock did not move
  expect(kt.clock.now().getTime() - before).toBeLessThan(60_000);
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query('select schema_name from information_schema.schemata where schema_name = $1', [other.schema]);
    expect(rows).toEqual([]);
  } finally {
    await client.end();
  }
});

async function expectSoon(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
