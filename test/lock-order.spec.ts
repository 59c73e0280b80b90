/**
 * Statements that lock several run rows lock them in id order: a group of step records
 * (commit-steps.sql.ts) and a cancel of a run with its children (cancel-run.sql.ts). A parent and its
 * child held by one worker commit steps in one group while the parent is cancelled: in any other order
 * the two waited for each other, PostgreSQL broke the deadlock after a second by failing one, and when
 * that was the cancel, `cancel()` threw 40P01. Here another session holds the child's row first, so
 * both statements are under way before either can finish; no deadlock may be detected, and every cancel
 * and every record must go through.
 */
import { Client } from 'pg';
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { RunStore } from '../libs/kagzi/src/persistence/run.store';
import { StepRecord } from '../libs/kagzi/src/persistence/step-commit.batcher';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, delay, sql } from './support/app';

const SCHEMA = 'lock_order';
let db: TestDatabase;
let store: RunStore;

beforeAll(async () => {
  db = await createTestDatabase('lock_order');
  const kagzi = await bootKagzi({ url: db.url, worker: false, schema: SCHEMA });
  store = new RunStore(kagzi.app.get(KagziDatabase, { strict: false }));
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

const record = (key: string): StepRecord => ({ key, name: 'S.step', status: 'COMPLETED', argsHash: 'h', output: '1', error: null, startedAt: new Date(), attempt: 1 });
const err = { name: 'WorkflowCancelledError', kind: 'CANCELLED', message: 'stop', retryable: false, attempt: 1, stepName: '', occurredAt: new Date().toISOString() } as never;

async function family(): Promise<{ parent: string; child: string }> {
  const [{ id: parent }] = await sql<{ id: string }>(db.url,
    `insert into "${SCHEMA}".workflow_runs (id, workflow_name, workflow_version, status, input, due_at, lease_owner, lease_epoch, started_at)
     values (gen_random_uuid(), 'wf', 1, 'RUNNING', '1', now() + interval '1 minute', 'w', 1, now()) returning id`);
  const [{ id: child }] = await sql<{ id: string }>(db.url,
    `insert into "${SCHEMA}".workflow_runs (id, workflow_name, workflow_version, status, input, due_at, lease_owner, lease_epoch, started_at, parent_run_id)
     values (gen_random_uuid(), 'wf', 1, 'RUNNING', '1', now() + interval '1 minute', 'w', 1, now(), $1) returning id`, [parent]);
  return { parent, child };
}

/** Deadlocks PostgreSQL has detected in this database (its statistics reach the view within a second or so). */
async function deadlocks(): Promise<number> {
  const [row] = await sql<{ n: string }>(db.url, 'select deadlocks::text as n from pg_stat_database where datname = current_database()');
  return Number(row.n);
}

test('a parent cancelled while one group commits a step of it and of its child: no deadlock, cancel() and the records go through', async () => {
  const deadlocksBefore = await deadlocks();
  const failures: string[] = [];
  for (let round = 0; round < 6; round++) {
    const { parent, child } = await family();
    const t0 = new Client({ connectionString: db.url });
    await t0.connect();
    try {
      // Something holds the child's row for a moment (a heartbeat extending it, a signal being stored).
      await t0.query('begin');
      await t0.query(`select 1 from "${SCHEMA}".workflow_runs where id = $1 for no key update`, [child]);
      // The group: the child's record first, then the parent's (two branches of one worker).
      const group = Promise.all([store.commitStep({ runId: child, owner: 'w', epoch: 1 }, record('c#1')), store.commitStep({ runId: parent, owner: 'w', epoch: 1 }, record('p#1'))]);
      await delay(150);
      const cancel = store.cancelRun(parent, err).then(() => 'ok', (e: unknown) => `cancel failed: ${String(e)} (${(e as { code?: string }).code})`);
      await delay(150);
      await t0.query('commit');
      const [g, c] = await Promise.all([group.then((o) => JSON.stringify(o)), cancel]);
      if (c !== 'ok' || g !== '[{"kind":"committed"},{"kind":"committed"}]') failures.push(`round ${round}: ${c}; group ${g}`);
    } finally {
      await t0.end();
    }
  }
  expect(failures).toEqual([]);
  // A deadlock the group lost would not show above (its records are then written one by one).
  await delay(1_500);
  expect((await deadlocks()) - deadlocksBefore).toBe(0);
});
