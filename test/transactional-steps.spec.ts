/**
 * `@Step({ transactional: true })` (SPEC §5.7): the body writes through `stepTransaction()` and its record
 * commits in the same transaction, fenced by the lease. Rows in the app's tables are counted: a failed
 * attempt's writes are rolled back, a lost lease rolls the writes back and the step runs again, two
 * SERIALIZABLE attempts that conflict (a real 40001) are retried, and a committed step's rows exist once.
 */
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InvalidOptionsError, KagziModule, RetryPolicy, Step, stepTransaction, UsageError, Workflow, WorkflowClient, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, deferred, FAST_WORKER, KagziTestApp, rejectionOf, sql } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();
let url = '';
/** Both SERIALIZABLE bodies have read the stock: they write only then, so their transactions conflict. */
const bothRead = { count: 0, gate: deferred() };

@Injectable()
class Stock {
  /** Reserves one unit; fails once after writing when asked to. */
  @Step({ transactional: true, retry: RetryPolicy.fixed({ interval: '10ms', maxAttempts: 3 }) })
  async reserve(orderId: string, failFirst: boolean): Promise<number> {
    const n = effects.enter('reserve', orderId);
    const manager = stepTransaction();
    await manager.query('insert into reservations (order_id, attempt) values ($1, $2)', [orderId, n]);
    if (failFirst && n === 1) throw new Error('warehouse system hiccup');
    return n;
  }

  /** Takes its own run's lease away (as another worker's claim would) before writing, on its first execution. */
  @Step({ transactional: true })
  async reserveStolen(orderId: string, runId: string): Promise<number> {
    const n = effects.enter('reserveStolen', orderId);
    if (n === 1) await sql(url, "update kagzi.workflow_runs set lease_epoch = lease_epoch + 1, due_at = now() + interval '300 milliseconds' where id = $1", [runId]);
    await stepTransaction().query('insert into reservations (order_id, attempt) values ($1, $2)', [orderId, n]);
    return n;
  }

  /** Reports which application the transaction's connection belongs to; with `nul`, returns more than a payload may hold (1 MB). */
  @Step({ transactional: true })
  async reserveWho(orderId: string, nul: boolean): Promise<string> {
    effects.enter('reserveWho', orderId);
    const manager = stepTransaction();
    await manager.query('insert into reservations (order_id, attempt) values ($1, 1)', [orderId]);
    const [{ name }] = (await manager.query("select current_setting('application_name') as name")) as Array<{ name: string }>;
    return nul ? `${name}:${'x'.repeat(1_100_000)}` : name;
  }

  /** SERIALIZABLE: read the total, then write: two at once conflict, and the loser retries. */
  @Step({ transactional: true, isolation: 'SERIALIZABLE', retry: RetryPolicy.fixed({ interval: '10ms', maxAttempts: 5 }) })
  async reserveCounted(orderId: string): Promise<number> {
    const n = effects.enter('reserveCounted', orderId);
    const manager = stepTransaction();
    const [{ total }] = (await manager.query('select count(*)::int as total from reservations where order_id like $1', ['ser-%'])) as Array<{ total: number }>;
    if (n === 1 && ++bothRead.count === 2) bothRead.gate.resolve();
    if (n === 1) await bothRead.gate.promise;
    await manager.query('insert into reservations (order_id, attempt) values ($1, $2)', [orderId, total + 1]);
    return n;
  }
}

type ReserveInput = { orderId: string; failFirst?: boolean; steal?: boolean; counted?: boolean; who?: boolean; nul?: boolean };

@Workflow({ name: 'Reserve', version: 1 })
class ReserveWorkflow implements WorkflowDefinition<ReserveInput, number | string> {
  constructor(private readonly stock: Stock) {}
  async run(input: ReserveInput, ctx: WorkflowContext): Promise<number | string> {
    if (input.who || input.nul) return this.stock.reserveWho(input.orderId, input.nul ?? false);
    if (input.steal) return this.stock.reserveStolen(input.orderId, ctx.runId);
    if (input.counted) return this.stock.reserveCounted(input.orderId);
    return this.stock.reserve(input.orderId, input.failFirst ?? false);
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('transactional_steps');
  url = db.url;
  await sql(url, 'create table reservations (order_id text not null, attempt int not null)');
  kagzi = await bootKagzi({ url, providers: [Stock, ReserveWorkflow] });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

const rows = async (orderId: string): Promise<Array<{ attempt: number }>> =>
  sql<{ attempt: number }>(url, 'select attempt from reservations where order_id = $1 order by attempt', [orderId]);

test("a committed transactional step's writes exist exactly once, with its record", async () => {
  await expect((await kagzi.client.start(ReserveWorkflow, { orderId: 'tx-ok' })).result({ timeout: '10s' })).resolves.toBe(1);
  expect(await rows('tx-ok')).toEqual([{ attempt: 1 }]);
  expect(effects.count('reserve', 'tx-ok')).toBe(1);
});

test("a failed attempt's writes are rolled back; the retry's commit with its record", async () => {
  const handle = await kagzi.client.start(ReserveWorkflow, { orderId: 'tx-retry', failFirst: true });
  await expect(handle.result({ timeout: '10s' })).resolves.toBe(2);
  expect(effects.count('reserve', 'tx-retry')).toBe(2);
  expect(await rows('tx-retry')).toEqual([{ attempt: 2 }]);
  const run = await kagzi.client.getRun(handle.runId);
  expect(run.steps[0].attempts.map((a) => [a.attempt, a.error?.message])).toEqual([[1, 'warehouse system hiccup'], [2, undefined]]);
});

test("a lost lease rolls the step's writes back; the run is claimed again and the step's rows exist once", async () => {
  const handle = await kagzi.client.start(ReserveWorkflow, { orderId: 'tx-stolen', steal: true });
  await expect(handle.result({ timeout: '15s' })).resolves.toBe(2);
  expect(effects.count('reserveStolen', 'tx-stolen')).toBe(2);
  expect(await rows('tx-stolen')).toEqual([{ attempt: 2 }]);
});

test('two SERIALIZABLE attempts that conflict: one fails with 40001 and is retried; each run commits its rows once', async () => {
  const [a, b] = await Promise.all(['ser-a', 'ser-b'].map((orderId) => kagzi.client.start(ReserveWorkflow, { orderId, counted: true })));
  const results = await Promise.all([a.result({ timeout: '15s' }), b.result({ timeout: '15s' })]);
  expect([...results].sort()).toEqual([1, 2]); // the loser's second attempt committed
  expect((await rows('ser-a')).length + (await rows('ser-b')).length).toBe(2);
  const loser = results[0] === 2 ? a : b;
  const run = await kagzi.client.getRun(loser.runId);
  expect(run.steps[0].attempts[0].error?.message).toMatch(/could not serialize access/);
});

test('stepTransaction() outside a transactional step, and isolation without transactional, are refused', async () => {
  expect(() => stepTransaction()).toThrow(UsageError);
  @Injectable()
  class Loose {
    @Step({ isolation: 'SERIALIZABLE' })
    async write(): Promise<void> {}
  }
  @Module({ imports: [KagziModule.forRoot({ database: { url }, worker: false })], providers: [Loose] })
  class LooseModule {}
  const app = await Test.createTestingModule({ imports: [LooseModule] }).compile();
  const error = await rejectionOf(app.init());
  expect(error).toBeInstanceOf(InvalidOptionsError);
  expect(String(error)).toMatch(/Loose.write: isolation needs transactional: true/);
  await app.close().catch(() => undefined);
});

test("on the app's shared DataSource the step's transaction is one of the app's connections; an output too large to store fails the step and rolls its writes back", async () => {
  await kagzi.close(); // this app alone serves Reserve from here on
  // Every statement sent through the DataSource's query runners (Kagzi's own hot path uses the pool directly).
  const sent: string[] = [];
  const logger = {
    logQuery: (query: string) => void sent.push(query.replace(/\s+/g, ' ').trim()),
    logQueryError: () => undefined, logQuerySlow: () => undefined, logSchemaBuild: () => undefined, logMigration: () => undefined, log: () => undefined,
  };
  const dataSource = await new DataSource({ type: 'postgres', url, applicationName: 'shop-app', logging: ['query'], logger }).initialize();
  try {
    const app = await Test.createTestingModule({
      imports: [KagziModule.forRoot({ database: { dataSource }, worker: FAST_WORKER })],
      providers: [Stock, ReserveWorkflow],
    }).compile();
    await app.init();
    try {
      const client = app.get(WorkflowClient);
      await expect((await client.start(ReserveWorkflow, { orderId: 'tx-who', who: true })).result({ timeout: '10s' })).resolves.toBe('shop-app');
      expect(await rows('tx-who')).toEqual([{ attempt: 1 }]);
      // A step's transaction costs BEGIN and COMMIT on top of its body and its record: no SET for the default level.
      sent.length = 0;
      await (await client.start(ReserveWorkflow, { orderId: 'tx-who-2', who: true })).result({ timeout: '10s' });
      expect(sent.map((q) => q.split(' ').slice(0, 2).join(' '))).toEqual(['START TRANSACTION', 'insert into', 'select current_setting(\'application_name\')', 'with fenced', 'COMMIT']);
      const bad = await client.start(ReserveWorkflow, { orderId: 'tx-nul', nul: true });
      await expect(bad.result({ timeout: '10s' })).rejects.toMatchObject({ cause: expect.objectContaining({ code: 'KAGZI_PAYLOAD_TOO_LARGE' }) });
      expect(effects.count('reserveWho', 'tx-nul')).toBe(1);
      expect(await rows('tx-nul')).toEqual([]);
    } finally {
      await app.close();
    }
  } finally {
    await dataSource.destroy();
  }
});
