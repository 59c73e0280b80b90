/**
 * PgBouncer in transaction mode (docs/scaling.md#pgbouncer) against a real PgBouncer in front of the
 * local test PostgreSQL: `npm run test:pgbouncer` (not part of `npm test`; needs `apt-get install -y
 * pgbouncer`). PgBouncer gives each database 4 server connections; Kagzi's pool (16 connections) and
 * its transactional steps go through it with `preparedStatements: false`, and the LISTEN connection and
 * migrations go to PostgreSQL directly (`listenUrl`).
 *
 * The worker polls only every 30 s, so every prompt claim and result here was woken by a NOTIFY heard
 * on the direct connection (or by the worker's own due-time timer for the sleeps). Many runs with steps,
 * parallel branches and a transactional step complete, each step body once; a sleep ends on time; a
 * signal wakes its run at once. Migrations sent through PgBouncer itself (no listenUrl) by processes
 * booting together leave no advisory lock behind.
 */
import { ConsoleLogger, Injectable } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { KagziModule, KagziModuleOptions, Step, stepTransaction, Workflow, WorkflowClient, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { KagziDatabase } from '../../libs/kagzi/src/persistence/kagzi-database';
import { createTestDatabase, TestDatabase } from '../support/database';
import { CallCounter, FAST_WORKER, sql } from '../support/app';
import { assertLocalPrimary, withUrl } from './support/local-postgres';
import { PgBouncer, startPgBouncer } from './support/pgbouncer-server';

const POOL_SIZE = 4;
const LISTEN_APP = 'kagzi-direct';
const RUNS = 40;
const calls = new CallCounter();

@Injectable()
class Warehouse {
  @Step({ name: 'Bouncer.reserve' })
  async reserve(id: string): Promise<string> {
    calls.bump('reserve', id);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return `r-${id}`;
  }

  @Step({ name: 'Bouncer.pack' })
  async pack(id: string, box: number): Promise<string> {
    calls.bump(`pack${box}`, id);
    return `box${box}-${id}`;
  }

  /** Writes to the app's table in the step's transaction (through PgBouncer too). */
  @Step({ name: 'Bouncer.ship', transactional: true })
  async ship(id: string): Promise<number> {
    calls.bump('ship', id);
    const rows = (await stepTransaction().query('insert into shipments (order_id) values ($1) returning id', [id])) as Array<{ id: number }>;
    return rows[0].id;
  }
}

@Workflow({ name: 'Bouncer.Order' })
class OrderWorkflow implements WorkflowDefinition<{ id: string }, { reservation: string; boxes: string[]; shipment: number }> {
  constructor(private readonly warehouse: Warehouse) {}

  async run(input: { id: string }, ctx: WorkflowContext): Promise<{ reservation: string; boxes: string[]; shipment: number }> {
    const reservation = await this.warehouse.reserve(input.id);
    const boxes = await ctx.parallel([() => this.warehouse.pack(input.id, 1), () => this.warehouse.pack(input.id, 2)]);
    return { reservation, boxes: [...boxes], shipment: await this.warehouse.ship(input.id) };
  }
}

@Workflow({ name: 'Bouncer.Nap' })
class NapWorkflow implements WorkflowDefinition<{ ms: number }, string> {
  async run(input: { ms: number }, ctx: WorkflowContext): Promise<string> {
    await ctx.sleep(input.ms);
    return 'rested';
  }
}

@Workflow({ name: 'Bouncer.Approval' })
class ApprovalWorkflow implements WorkflowDefinition<{ id: string }, unknown> {
  async run(_input: { id: string }, ctx: WorkflowContext): Promise<unknown> {
    return ctx.waitForSignal('approve');
  }
}

let bouncer: PgBouncer | undefined;
let db: TestDatabase | undefined;
let fresh: TestDatabase | undefined;
const apps: TestingModule[] = [];

async function boot(options: KagziModuleOptions, providers: Array<new (...args: never[]) => unknown> = []): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({ imports: [KagziModule.forRoot(options)], providers })
    .setLogger(new ConsoleLogger({ logLevels: ['error'] }))
    .compile();
  apps.push(moduleRef);
  await moduleRef.init();
  return moduleRef;
}

beforeAll(async () => {
  const admin = assertLocalPrimary();
  bouncer = await startPgBouncer(admin, { poolSize: POOL_SIZE });
  db = await createTestDatabase('pgbouncer');
  fresh = await createTestDatabase('pgbouncer_migrations');
  await sql(db.url, 'create table shipments (id serial primary key, order_id text not null)');
});

afterAll(async () => {
  for (const app of apps.reverse()) await app.close().catch(() => undefined);
  await db?.drop();
  await fresh?.drop();
  await bouncer?.stop();
});

it('runs workflows through PgBouncer in transaction mode: steps, parallel branches, a transactional step, a sleep and a signal', async () => {
  const booted = Date.now();
  const moduleRef = await boot(
    {
      database: { url: bouncer!.url(db!.name), listenUrl: withUrl(db!.url, { params: { application_name: LISTEN_APP } }) },
      preparedStatements: false,
      worker: { ...FAST_WORKER, pollInterval: '30s', concurrency: 12 },
    },
    [Warehouse, OrderWorkflow, NapWorkflow, ApprovalWorkflow],
  );
  console.log(`booted through PgBouncer in ${Date.now() - booted} ms`);
  const client = moduleRef.get(WorkflowClient);
  const pool = moduleRef.get(KagziDatabase, { strict: false }).pool;

  // Sample both sides while the runs execute: Kagzi's client connections, and the server connections PgBouncer uses.
  let clientPeak = 0;
  let serverPeak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      clientPeak = Math.max(clientPeak, pool.totalCount);
      const [row] = await sql<{ n: number }>(
        db!.url,
        'select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and application_name <> $1',
        [LISTEN_APP],
      );
      serverPeak = Math.max(serverPeak, row.n);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();

  const started = Date.now();
  const nap = await client.start(NapWorkflow, { ms: 1_000 });
  const napEnded = nap.result({ timeout: '10s' }).then((value) => ({ value, ms: Date.now() - started }));
  const approval = await client.start(ApprovalWorkflow, { id: 'a' });
  const orders = await Promise.all(Array.from({ length: RUNS }, (_, i) => client.start(OrderWorkflow, { id: `o${i}` })));
  const results = await Promise.all(orders.map((h) => h.result({ timeout: '20s' })));
  const ordersMs = Date.now() - started;
  sampling = false;
  await sampler;

  results.forEach((r, i) => expect(r).toMatchObject({ reservation: `r-o${i}`, boxes: [`box1-o${i}`, `box2-o${i}`] }));
  for (let i = 0; i < RUNS; i++) {
    expect([calls.get('reserve', `o${i}`), calls.get('pack1', `o${i}`), calls.get('pack2', `o${i}`), calls.get('ship', `o${i}`)]).toEqual([1, 1, 1, 1]);
  }
  const shipments = await sql<{ n: number; orders: number }>(db!.url, 'select count(*)::int as n, count(distinct order_id)::int as orders from shipments');
  expect(shipments).toEqual([{ n: RUNS, orders: RUNS }]);
  console.log(`${RUNS} runs (4 steps, 2 in parallel, 1 transactional) in ${ordersMs} ms; Kagzi's pool up to ${clientPeak} connections, PostgreSQL saw up to ${serverPeak} from PgBouncer`);
  expect(clientPeak).toBeGreaterThan(POOL_SIZE); // many client connections ...
  expect(serverPeak).toBeLessThanOrEqual(POOL_SIZE); // ... shared over PgBouncer's few server connections

  // The sleep ends on time (the worker's due-time timer), far sooner than the 30 s poll.
  const slept = await napEnded;
  console.log(`a 1 s sleep ended after ${slept.ms} ms`);
  expect(slept.value).toBe('rested');
  expect(slept.ms).toBeGreaterThanOrEqual(1_000);
  expect(slept.ms).toBeLessThan(5_000);

  // A signal wakes its run at once: the NOTIFY is sent through PgBouncer and heard on the direct connection.
  const signalled = Date.now();
  await client.signal(approval.runId, 'approve', { by: 'ops' });
  await expect(approval.result({ timeout: '10s' })).resolves.toEqual({ by: 'ops' });
  const signalMs = Date.now() - signalled;
  console.log(`signal to result: ${signalMs} ms`);
  expect(signalMs).toBeLessThan(5_000);

  // The LISTEN connection is the direct one, and it is the only connection that bypasses PgBouncer.
  const direct = await sql<{ n: number }>(db!.url, "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = $1 and query ilike 'listen%'", [LISTEN_APP]);
  expect(direct).toEqual([{ n: 1 }]);
});

it('migrations sent through PgBouncer itself (no listenUrl) by processes booting together: each applied once, no lock left behind', async () => {
  const url = bouncer!.url(fresh!.name);
  const started = Date.now();
  await Promise.all(Array.from({ length: 3 }, () => boot({ database: { url }, preparedStatements: false, worker: false })));
  console.log(`3 processes migrated a fresh database through PgBouncer in ${Date.now() - started} ms`);
  const applied = await sql<{ n: number }>(fresh!.url, 'select count(*)::int as n from kagzi.kagzi_migrations group by name having count(*) > 1');
  expect(applied).toEqual([]);
  expect((await sql<{ n: number }>(fresh!.url, 'select count(*)::int as n from kagzi.kagzi_migrations'))[0].n).toBeGreaterThanOrEqual(14);
  // A session lock taken on one server connection and "released" on another would still be held here.
  const locks = await sql<{ n: number }>(fresh!.url, "select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())");
  expect(locks).toEqual([{ n: 0 }]);
});
