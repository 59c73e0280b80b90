/**
 * A heartbeat tells a lease it lost from a run this worker released itself. A beat reads the held runs
 * when it is sent; a park or an end of one of them that commits while the beat is in flight leaves that
 * run no longer RUNNING under this owner, at the same epoch, until the worker has the reply. The beat
 * reports it `released` (neither renewed nor lost, so the run is not stopped and no lease loss is
 * counted), and only a higher epoch (another worker claimed it) or a deleted row is a loss. The heartbeat
 * statement is driven through WorkerStore on rows written by the test: no worker, no timing.
 */
import { Client } from 'pg';
import { randomUUID } from 'node:crypto';
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { WorkerStore } from '../libs/kagzi/src/persistence/worker.store';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps } from './support/app';

const SCHEMA = 'heartbeat_released';
const OWNER = 'beater';
const LEASE_MS = 60_000;

let db: TestDatabase;
let store: WorkerStore;
let pg: Client;
const workerId = randomUUID();

beforeAll(async () => {
  db = await createTestDatabase('heartbeat_released');
  const kagzi = await bootKagzi({ url: db.url, worker: false, schema: SCHEMA });
  store = new WorkerStore(kagzi.app.get(KagziDatabase, { strict: false }));
  pg = new Client({ connectionString: db.url });
  await pg.connect();
  await pg.query(
    `insert into "${SCHEMA}".workers (id, name, hostname, pid, status, started_at, last_heartbeat_at, concurrency, heartbeat_interval_ms, workflows, library_version)
     values ($1, $2, 'host', 1, 'RUNNING', now(), now(), 10, 1000, '{}', 'test')`,
    [workerId, OWNER],
  );
});

afterAll(async () => {
  await pg?.end();
  await closeAllApps();
  await db?.drop();
});

/** A run at epoch 3 in `status`, owned by `owner`, due in a second unless it ended. */
async function run(status: string, owner: string | null, cancelRequested = false): Promise<string> {
  const { rows } = await pg.query<{ id: string }>(
    `insert into "${SCHEMA}".workflow_runs (id, workflow_name, workflow_version, status, input, due_at, lease_owner, lease_epoch, created_at, started_at, cancel_requested_at)
     values (gen_random_uuid(), 'beat', 1, $1::text, '{}', case when $1::text <> 'COMPLETED' then now() + interval '1 second' end, $2::text, 3, now(), now(), case when $3::boolean then now() end) returning id`,
    [status, owner, cancelRequested],
  );
  return rows[0].id;
}

async function dueInMs(id: string): Promise<number> {
  const { rows } = await pg.query<{ ms: number }>(`select extract(epoch from due_at - now()) * 1000 as ms from "${SCHEMA}".workflow_runs where id = $1`, [id]);
  return Number(rows[0].ms);
}

it('renews runs it still owns, reports runs it released at their epoch, and leaves out runs claimed since or gone', async () => {
  const owned = await run('RUNNING', OWNER, true);
  const parked = await run('SLEEPING', null);
  const ended = await run('COMPLETED', null);
  const handedBack = await run('PENDING', null);
  const reclaimed = await run('RUNNING', 'other-worker');
  const deleted = randomUUID();
  const held = [owned, parked, ended, handedBack, reclaimed, deleted].map((runId) => ({ runId, owner: OWNER, epoch: 3 }));
  await pg.query(`update "${SCHEMA}".workflow_runs set lease_epoch = 4 where id = $1`, [reclaimed]);

  const beat = await store.heartbeat({ id: workerId, name: OWNER, status: 'RUNNING', activeRuns: held.length }, held, LEASE_MS);

  expect(Object.fromEntries(beat)).toEqual({
    [owned]: { cancelPending: true, released: false },
    [parked]: { cancelPending: false, released: true },
    [ended]: { cancelPending: false, released: true },
    [handedBack]: { cancelPending: false, released: true },
  });
  expect(await dueInMs(owned)).toBeGreaterThan(LEASE_MS - 5_000); // renewed
  expect(await dueInMs(parked)).toBeLessThan(2_000); // a released run keeps its own due time
  expect(await dueInMs(handedBack)).toBeLessThan(2_000);
});

it('a run at the held epoch owned by another name is released, not renewed for this one', async () => {
  const odd = await run('RUNNING', 'someone-else');
  const beat = await store.heartbeat({ id: workerId, name: OWNER, status: 'RUNNING', activeRuns: 1 }, [{ runId: odd, owner: OWNER, epoch: 3 }], LEASE_MS);
  expect(beat.get(odd)).toEqual({ cancelPending: false, released: true });
  expect(await dueInMs(odd)).toBeLessThan(2_000);
});
