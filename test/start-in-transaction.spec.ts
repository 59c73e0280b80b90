/**
 * `client.start(workflow, input, { manager })` (SPEC §5.7): the run is inserted in the caller's TypeORM
 * transaction — invisible to workers until it commits, gone if it rolls back, workers woken at commit
 * (the worker here polls every 10 s, so only the commit's NOTIFY can start the run within a second).
 * Step executions are counted.
 */
import { Injectable } from '@nestjs/common';
import { InvalidOptionsError, Step, Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, rejectionOf, sql } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();

@Injectable()
class Warehouse {
  @Step()
  async pick(orderId: string): Promise<string> {
    effects.enter('pick', orderId);
    return `picked ${orderId}`;
  }
}

@Workflow({ name: 'Fulfil', version: 1 })
class FulfilWorkflow implements WorkflowDefinition<string, string> {
  constructor(private readonly warehouse: Warehouse) {}
  async run(orderId: string): Promise<string> {
    return this.warehouse.pick(orderId);
  }
}

let db: TestDatabase;
let other: TestDatabase;
let kagzi: KagziTestApp;
let orders: DataSource;

beforeAll(async () => {
  db = await createTestDatabase('start_in_tx');
  kagzi = await bootKagzi({ url: db.url, providers: [Warehouse, FulfilWorkflow], worker: { pollInterval: '10s' } });
  orders = await new DataSource({ type: 'postgres', url: db.url }).initialize();
  await orders.query('create table orders (id text primary key)');
});

afterAll(async () => {
  await orders?.destroy();
  await closeAllApps();
  await db?.drop();
  await other?.drop();
});

const runsOf = async (orderId: string): Promise<number> =>
  (await sql<{ n: number }>(db.url, "select count(*)::int as n from kagzi.workflow_runs where input->>'json' = $1", [orderId]))[0].n;

test('a rolled-back transaction leaves no order, no run and no execution', async () => {
  const error = await rejectionOf(
    orders.transaction(async (manager) => {
      await manager.query('insert into orders (id) values ($1)', ['o-rollback']);
      await kagzi.client.start(FulfilWorkflow, 'o-rollback', { manager });
      throw new Error('payment form invalid');
    }),
  );
  expect(error).toEqual(new Error('payment form invalid'));
  expect(await runsOf('o-rollback')).toBe(0);
  expect((await orders.query('select * from orders where id = $1', ['o-rollback'])).length).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(effects.count('pick', 'o-rollback')).toBe(0);
});

test('a committed transaction starts the run at once: invisible and not executed until the commit, woken by it', async () => {
  let runId = '';
  let committedAt = 0;
  await orders.transaction(async (manager) => {
    await manager.query('insert into orders (id) values ($1)', ['o-commit']);
    runId = (await kagzi.client.start(FulfilWorkflow, 'o-commit', { manager })).runId;
    // Still open: other connections (the worker's) do not see the run.
    expect(await runsOf('o-commit')).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(effects.count('pick', 'o-commit')).toBe(0);
    committedAt = Date.now();
  });
  await expect(kagzi.client.getHandle(runId).result({ timeout: '5s' })).resolves.toBe('picked o-commit');
  expect(Date.now() - committedAt).toBeLessThan(2_000); // the NOTIFY at commit, not the 10 s poll
  expect(effects.count('pick', 'o-commit')).toBe(1);
  expect((await orders.query('select * from orders where id = $1', ['o-commit'])).length).toBe(1);
});

test('an idempotency key returns the run started earlier in the same transaction', async () => {
  const ids = await orders.transaction(async (manager) => {
    const first = await kagzi.client.start(FulfilWorkflow, 'o-key', { manager, idempotencyKey: 'order-o-key' });
    const again = await kagzi.client.start(FulfilWorkflow, 'o-key', { manager, idempotencyKey: 'order-o-key' });
    return [first.runId, again.runId];
  });
  expect(ids[1]).toBe(ids[0]);
  await kagzi.client.getHandle(ids[0]).result({ timeout: '5s' });
  expect(await runsOf('o-key')).toBe(1);
  expect(effects.count('pick', 'o-key')).toBe(1);
});

test("a manager of another database is refused with a typed error before anything is written; a non-manager and signalWithStart are refused too", async () => {
  other = await createTestDatabase('start_in_tx_other');
  const elsewhere = await new DataSource({ type: 'postgres', url: other.url }).initialize();
  try {
    const error = await rejectionOf(elsewhere.transaction((manager) => kagzi.client.start(FulfilWorkflow, 'o-elsewhere', { manager })));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(String(error)).toMatch(/EntityManager's database \(kagzi_test_\w*start_in_tx_other\w*\) is not Kagzi's/);
  } finally {
    await elsewhere.destroy();
  }
  expect(await runsOf('o-elsewhere')).toBe(0);
  await expect(kagzi.client.start(FulfilWorkflow, 'o-bad', { manager: {} as never })).rejects.toThrow(/options.manager: must be a TypeORM EntityManager/);
  await expect(kagzi.client.signalWithStart(FulfilWorkflow, 'o-sws', { name: 'go' }, { idempotencyKey: 'k', manager: orders.manager })).rejects.toThrow(
    /options.manager is not supported/,
  );
});
