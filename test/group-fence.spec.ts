/**
 * A group write (several step records, or several run ends, in one statement) answers each item for its
 * own lease. Two items of one run and key (or, for ends, of one run) under different epochs can share a
 * group: the same worker claimed its run again after an expiry it did not notice, while the old
 * execution still runs. Only the current lease passes the fence; the stale item must be told it was not
 * written, as the statement for one item tells it, or the old execution goes on past a refused write.
 * Driven through RunStore on rows written by the test: no worker.
 */
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { RunStore } from '../libs/kagzi/src/persistence/run.store';
import { StepRecord } from '../libs/kagzi/src/persistence/step-commit.batcher';
import { Lease } from '../libs/kagzi/src/persistence/store.types';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, sql } from './support/app';

const SCHEMA = 'group_fence';
let db: TestDatabase;
let store: RunStore;

beforeAll(async () => {
  db = await createTestDatabase('group_fence');
  const kagzi = await bootKagzi({ url: db.url, worker: false, schema: SCHEMA });
  store = new RunStore(kagzi.app.get(KagziDatabase, { strict: false }));
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

/** A RUNNING run held by 'w' at epoch 2 (it was claimed again by the same worker after its epoch-1 lease expired). */
async function reclaimedRun(): Promise<{ stale: Lease; current: Lease }> {
  const [{ id }] = await sql<{ id: string }>(
    db.url,
    `insert into "${SCHEMA}".workflow_runs (id, workflow_name, workflow_version, status, input, due_at, lease_owner, lease_epoch, started_at)
     values (gen_random_uuid(), 'wf', 1, 'RUNNING', '1', now() + interval '1 minute', 'w', 2, now()) returning id`,
  );
  return { stale: { runId: id, owner: 'w', epoch: 1 }, current: { runId: id, owner: 'w', epoch: 2 } };
}

const record = (key: string, output: string): StepRecord => ({
  key, name: 'S.step', status: 'COMPLETED', argsHash: 'h', output, error: null, startedAt: new Date(), attempt: 1,
});

test('alone, a step record of a stale lease is refused (lost)', async () => {
  const { stale } = await reclaimedRun();
  await expect(store.commitStep(stale, record('k', '"stale"'))).resolves.toEqual({ kind: 'lost' });
});

test('grouped with the current lease record of the same run and key, a stale lease record is refused (lost)', async () => {
  const { stale, current } = await reclaimedRun();
  const [a, b] = await Promise.all([store.commitStep(stale, record('k', '"stale"')), store.commitStep(current, record('k', '"current"'))]);
  const rows = await sql<{ output: unknown }>(db.url, `select output from "${SCHEMA}".step_runs where workflow_run_id = $1`, [current.runId]);
  expect(rows).toEqual([{ output: 'current' }]);
  expect(b).toEqual({ kind: 'committed' });
  // The stale execution's own output ("stale") was never recorded; it must be told so.
  expect(a).toEqual({ kind: 'lost' });
});

test('alone, a run end of a stale lease is refused', async () => {
  const { stale } = await reclaimedRun();
  await expect(store.finishRun(stale, 'FAILED', null, null)).resolves.toBe(false);
});

test('grouped with the current lease end of the same run, a stale lease end is refused', async () => {
  const { stale, current } = await reclaimedRun();
  const ends = await Promise.all([store.finishRun(stale, 'FAILED', null, null), store.finishRun(current, 'COMPLETED', '{"json":1}', null)]);
  const [row] = await sql<{ status: string }>(db.url, `select status from "${SCHEMA}".workflow_runs where id = $1`, [current.runId]);
  expect(row.status).toBe('COMPLETED');
  expect(ends).toEqual([false, true]);
});
