/**
 * `database: { dataSource }` (SPEC §5.7): Kagzi on the app's own TypeORM DataSource, wired with
 * forRootAsync as an app does: its statements go through the app's pool (counted on the server by the
 * pool's application_name), migrations still land in the `kagzi` schema, the app's pool outlives the
 * Kagzi module, and a run started in one of the app's transactions executes once it commits.
 */
import { ConsoleLogger, Global, Injectable, Module } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { InvalidOptionsError, KagziModule, Step, Workflow, WorkflowClient, WorkflowDefinition } from '@kagzi/nestjs';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from './support/database';
import { FAST_WORKER, rejectionOf } from './support/app';

@Injectable()
class Counter {
  @Step()
  async bump(n: number): Promise<number> {
    return n + 1;
  }
}

@Workflow({ name: 'Shared', version: 1 })
class SharedWorkflow implements WorkflowDefinition<number, number> {
  constructor(private readonly counter: Counter) {}
  async run(n: number): Promise<number> {
    return this.counter.bump(await this.counter.bump(n));
  }
}

let db: TestDatabase;
let dataSource: DataSource;

beforeAll(async () => {
  db = await createTestDatabase('shared_datasource');
  dataSource = await new DataSource({ type: 'postgres', url: db.url, applicationName: 'orders-app', extra: { max: 5 } }).initialize();
});

afterAll(async () => {
  if (dataSource?.isInitialized) await dataSource.destroy();
  await db?.drop();
});

/** The app's TypeORM module, reduced to what Kagzi needs: the DataSource as a global provider. */
async function bootOnDataSource(source: DataSource): Promise<TestingModule> {
  @Global()
  @Module({ providers: [{ provide: DataSource, useValue: source }], exports: [DataSource] })
  class OrmModule {}
  const app = await Test.createTestingModule({
    imports: [OrmModule, KagziModule.forRootAsync({ useFactory: (ds: DataSource) => ({ database: { dataSource: ds }, worker: FAST_WORKER }), inject: [DataSource] })],
    providers: [Counter, SharedWorkflow],
  })
    .setLogger(new ConsoleLogger({ logLevels: ['error'] }))
    .compile();
  await app.init();
  return app;
}

/** Connections to the test database by application_name, seen from a probe connection of its own. */
async function backends(): Promise<Record<string, number>> {
  const probe = new Client({ connectionString: db.url, application_name: 'probe' });
  await probe.connect();
  try {
    const { rows } = await probe.query<{ name: string; n: number }>(
      "select application_name as name, count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() group by 1",
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.n]));
  } finally {
    await probe.end();
  }
}

test("Kagzi runs on the app's pool: runs complete, every connection is the app's, migrations are in place, the pool outlives the module", async () => {
  const app = await bootOnDataSource(dataSource);
  const client = app.get(WorkflowClient);
  const handles = await Promise.all(Array.from({ length: 12 }, (_, i) => client.start(SharedWorkflow, i)));
  expect(await Promise.all(handles.map((h) => h.result({ timeout: '10s' })))).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));
  // One pool: the app's five connections at most, plus the LISTEN connection with the same settings.
  const seen = await backends();
  expect(Object.keys(seen)).toEqual(['orders-app']);
  expect(seen['orders-app']).toBeLessThanOrEqual(6);
  const [{ n }] = await dataSource.query("select count(*)::int as n from information_schema.tables where table_schema = 'kagzi' and table_name = 'workflow_runs'");
  expect(n).toBe(1);

  // A run started in one of the app's transactions, on the same DataSource.
  const runId = await dataSource.transaction(async (manager) => (await client.start(SharedWorkflow, 40, { manager })).runId);
  await expect(client.getHandle(runId).result({ timeout: '10s' })).resolves.toBe(42);

  await app.close();
  expect(dataSource.isInitialized).toBe(true);
  await expect(dataSource.query('select 1 as one')).resolves.toEqual([{ one: 1 }]);
});

test('runs start inside transactions that hold every connection of the shared pool (no second connection is taken)', async () => {
  const small = await new DataSource({ type: 'postgres', url: db.url, applicationName: 'orders-app', extra: { max: 2 } }).initialize();
  const app = await bootOnDataSource(small);
  try {
    const client = app.get(WorkflowClient);
    // Four transactions on a pool of two: each start() must run on its transaction's own connection.
    const started = Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        small.transaction(async (manager) => {
          const one = await client.start(SharedWorkflow, i, { manager });
          const many = await client.startMany([{ workflow: SharedWorkflow, input: 10 + i }], { manager });
          return [one.runId, many[0].runId];
        }),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the transactions waited for a pool connection')), 10_000)));
    const ids = (await Promise.race([started, stuck]).finally(() => clearTimeout(timer))).flat();
    const results = await Promise.all(ids.map((id) => client.getHandle<number>(id).result({ timeout: '10s' })));
    expect(results.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 12, 13, 14, 15]);
  } finally {
    await app.close();
    await small.destroy();
  }
});

test('refused with a typed error: a DataSource of another driver, and one not initialized', async () => {
  const mysqlish = { options: { type: 'mysql' }, query: async () => [] } as unknown as DataSource;
  const error = await rejectionOf(bootOnDataSource(mysqlish));
  expect(error).toBeInstanceOf(InvalidOptionsError);
  expect(String(error)).toMatch(/database.*must be a TypeORM DataSource with type 'postgres'/);
  const idle = new DataSource({ type: 'postgres', url: db.url });
  const notInitialized = await rejectionOf(bootOnDataSource(idle));
  expect(notInitialized).toBeInstanceOf(InvalidOptionsError);
  expect(String(notInitialized)).toMatch(/not initialized/);
});
