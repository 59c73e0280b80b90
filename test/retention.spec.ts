/**
 * Retention (SPEC §5.2, KagziModuleOptions.retention): runs that ended longer ago than the retention
 * are deleted with everything that hangs off them, in bounded batches, one worker at a time; young
 * and live runs, and children of live parents, stay. Rows are made with SQL (ages in the past) and
 * counted back.
 */
import { Client } from 'pg';
import { InvalidOptionsError } from '@kagzi/nestjs';
import { RETENTION_BATCH, RunRetention, retentionLockKey } from '../libs/kagzi/src/retention/run-retention';
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, rejectionOf, sql, waitFor } from './support/app';

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('retention');
  kagzi = await bootKagzi({ url: db.url, providers: [], retention: '10m' });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

beforeEach(async () => {
  await sql(db.url, 'delete from kagzi.workflow_runs');
});

/** `n` runs of `tag` that ended `endedAgo` ago (status COMPLETED), each with 3 steps, 2 attempts, a signal and an event. */
async function endedRuns(tag: string, n: number, endedAgo: string, extra = ''): Promise<void> {
  await sql(
    db.url,
    `with made as (
       insert into kagzi.workflow_runs (id, workflow_name, workflow_version, status, input, created_at, completed_at, idempotency_key ${extra ? ', parent_run_id' : ''})
       select gen_random_uuid(), 'Ret.' || $1, 1, 'COMPLETED', '{"json":1}', now() - $3::interval - interval '1 minute', now() - $3::interval, $1 || i ${extra ? `, ${extra}` : ''}
       from generate_series(1, $2::int) i
       returning id
     ), steps as (
       insert into kagzi.step_runs (workflow_run_id, step_key, step_name, status, output, completed_at)
       select id, 's#' || k, 's', 'COMPLETED', '{"json":1}', now() from made, generate_series(1, 3) k
     ), attempts as (
       insert into kagzi.step_attempts (workflow_run_id, step_key, attempt, started_at, finished_at)
       select id, 's#' || k, 1, now(), now() from made, generate_series(1, 2) k
     ), signals as (
       insert into kagzi.signals (workflow_run_id, name, payload, delivery_id, consumed_at) select id, 'go', '{"json":1}', gen_random_uuid(), now() from made
     )
     insert into kagzi.run_events (workflow_run_id, key, value) select id, 'stage', '{"json":"done"}' from made`,
    [tag, n, endedAgo],
  );
}

const countOf = async (table: string, where = 'true'): Promise<number> =>
  (await sql<{ n: number }>(db.url, `select count(*)::int as n from kagzi.${table} where ${where}`))[0].n;

describe('retention', () => {
  it('deletes runs that ended longer ago, with steps, attempts, signals and events; young and live runs stay', async () => {
    await endedRuns('old', 1_200, '2 hours');
    await endedRuns('young', 50, '1 minute');
    await sql(db.url, `insert into kagzi.workflow_runs (id, workflow_name, workflow_version, status, created_at, due_at) select gen_random_uuid(), 'Ret.live', 1, 'PENDING', now() - interval '3 hours', now() + interval '1 hour' from generate_series(1, 20)`);
    const deleted = await kagzi.app.get(RunRetention).sweep();
    expect(deleted).toBe(1_200);
    expect(await countOf('workflow_runs', `workflow_name = 'Ret.old'`)).toBe(0);
    expect(await countOf('workflow_runs', `workflow_name = 'Ret.young'`)).toBe(50);
    expect(await countOf('workflow_runs', `workflow_name = 'Ret.live'`)).toBe(20);
    // Nothing of the deleted runs is left behind.
    expect(await countOf('step_runs')).toBe(50 * 3);
    expect(await countOf('step_attempts')).toBe(50 * 2);
    expect(await countOf('signals')).toBe(50);
    expect(await countOf('run_events')).toBe(50);
  });

  it('works in bounded batches of at most 500 runs per statement', async () => {
    await endedRuns('batch', 1_100, '1 day');
    const database = kagzi.app.get(KagziDatabase);
    const batches: number[] = [];
    const spy = jest.spyOn(database, 'run').mockImplementation(async function (this: KagziDatabase, ...args: Parameters<KagziDatabase['run']>) {
      const rows = await (KagziDatabase.prototype.run as (...a: unknown[]) => Promise<Array<Record<string, unknown>>>).apply(this, args);
      if (rows[0] && 'deleted' in rows[0]) batches.push(Number(rows[0].deleted));
      return rows as never;
    });
    try {
      expect(await kagzi.app.get(RunRetention).sweep()).toBe(1_100);
    } finally {
      spy.mockRestore();
    }
    expect(batches).toEqual([RETENTION_BATCH, RETENTION_BATCH, 100]);
  });

  it('one worker at a time: while another holds the retention lock, a sweep deletes nothing', async () => {
    await endedRuns('locked', 10, '1 day');
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('select pg_advisory_lock($1::bigint)', [retentionLockKey('kagzi')]);
      expect(await kagzi.app.get(RunRetention).sweep()).toBe(0);
      expect(await countOf('workflow_runs')).toBe(10);
      await other.query('select pg_advisory_unlock($1::bigint)', [retentionLockKey('kagzi')]);
      expect(await kagzi.app.get(RunRetention).sweep()).toBe(10);
    } finally {
      await other.end();
    }
  });

  it('keeps an old child whose parent is still live', async () => {
    const [parent] = await sql<{ id: string }>(
      db.url,
      `insert into kagzi.workflow_runs (id, workflow_name, workflow_version, status, created_at, due_at) values (gen_random_uuid(), 'Ret.parent', 1, 'WAITING', now() - interval '3 days', now() + interval '1 hour') returning id`,
    );
    await endedRuns('child', 3, '2 days', `'${parent.id}'::uuid`);
    expect(await kagzi.app.get(RunRetention).sweep()).toBe(0);
    await sql(db.url, `update kagzi.workflow_runs set status = 'COMPLETED', due_at = null, completed_at = now() - interval '1 day' where id = $1`, [parent.id]);
    expect(await kagzi.app.get(RunRetention).sweep()).toBe(4);
  });

  it('a worker sweeps by itself (every quarter of the retention, at least every second)', async () => {
    const sweeper = await bootKagzi({ url: db.url, providers: [], retention: '2s' });
    try {
      await endedRuns('timed', 30, '1 hour');
      await waitFor('the worker to sweep', async () => (await countOf('workflow_runs')) === 0 || undefined, 5_000);
    } finally {
      await sweeper.close();
    }
  });

  it('without the option nothing is deleted; a retention under 1 s is refused', async () => {
    const keepAll = await bootKagzi({ url: db.url, providers: [], worker: false });
    await endedRuns('forever', 5, '10 years');
    expect(keepAll.app.get(RunRetention)).toBeDefined();
    await keepAll.close();
    expect(await countOf('workflow_runs')).toBe(5);
    const refused = await rejectionOf(bootKagzi({ url: db.url, providers: [], retention: '10ms' }));
    expect(refused).toBeInstanceOf(InvalidOptionsError);
    expect((refused as Error).message).toContain('retention');
  });
});
