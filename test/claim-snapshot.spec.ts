/**
 * A claimed run comes with a history at least as new as its row. The claim finds due runs with
 * `due_runs()`, a volatile function that reads with a snapshot newer than the claim statement's own,
 * so it can claim a run that a transaction made due while the claim was starting (a signal, a child's
 * end, a short back-off, a skipped clock). That same transaction recorded steps: read with the
 * statement's snapshot they were missing, and the run replayed an older history — a step done again,
 * a signal waited for again, a sleep of a day waited out in the worker (run_steps(), migration 18).
 * The race is driven for real: one connection keeps making runs due while recording a step in the
 * same statement, and claims run beside it; every claimed run must come with that step.
 */
import { Client } from 'pg';
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { RunStore } from '../libs/kagzi/src/persistence/run.store';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps } from './support/app';

const SCHEMA = 'claim_snapshot';
const RACE_MS = 4_000;

let db: TestDatabase;
let store: RunStore;
let pg: Client;

beforeAll(async () => {
  db = await createTestDatabase('claim_snapshot');
  const kagzi = await bootKagzi({ url: db.url, worker: false, schema: SCHEMA });
  store = new RunStore(kagzi.app.get(KagziDatabase, { strict: false }));
  pg = new Client({ connectionString: db.url });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await closeAllApps();
  await db?.drop();
});

/** A parked run (claimed once before), due in a day. */
async function parkedRun(): Promise<string> {
  const { rows } = await pg.query<{ id: string }>(
    `insert into "${SCHEMA}".workflow_runs (id, workflow_name, workflow_version, status, input, due_at, lease_epoch, created_at, started_at)
     values (gen_random_uuid(), 'snap', 1, 'SLEEPING', '{}', now() + interval '1 day', 1, now(), now()) returning id`,
  );
  return rows[0].id;
}

/** What a signal or a child's end does: the run becomes due and a step is recorded, in one statement. */
async function wakeWithStep(runId: string): Promise<void> {
  await pg.query(
    `with woken as (update "${SCHEMA}".workflow_runs set due_at = now() where id = $1::uuid returning id)
     insert into "${SCHEMA}".step_runs (workflow_run_id, step_key, step_name, kind, status, output, completed_at)
     select id, 'delivered#1', 'delivered', 'STEP', 'COMPLETED', '{"json":"sent"}', now() from woken`,
    [runId],
  );
}

it('returns, with every run it claims, the steps recorded by the transaction that made the run due', async () => {
  const end = Date.now() + RACE_MS;
  let woken = 0;
  const claimed: { runId: string; steps: string[] }[] = [];
  const waker = (async () => {
    while (Date.now() < end) {
      await wakeWithStep(await parkedRun());
      woken++;
    }
  })();
  const claimer = (async () => {
    while (Date.now() < end) {
      for (const run of await store.claimRuns('claimer', { names: ['snap'], versions: [1] }, 10, 60_000)) {
        claimed.push({ runId: run.lease.runId, steps: (run.steps ?? []).map((s) => s.step_key) });
      }
    }
  })();
  await Promise.all([waker, claimer]);
  // Enough rounds for the race to have happened: with the statement's snapshot, several in a hundred missed the step.
  expect(claimed.length).toBeGreaterThan(200);
  expect(claimed.length).toBeLessThanOrEqual(woken);
  expect(claimed.filter((c) => !c.steps.includes('delivered#1'))).toEqual([]);
});
