/**
 * Claim order: runs claimed before (an expired lease, a sleep or back-off that ended, a hand-back) go
 * ahead of runs never claimed, yet never-started runs keep one slot in four (claim-share.ts), so a
 * steady supply of resumed runs cannot starve them. The claim statement is driven through RunStore
 * directly, on rows written by the test: no worker, no timing. Also: each branch walks its own partial
 * index (migration 15), the claim statement of the previous release still works on the new schema, and
 * the migration keeps indexes built by hand beforehand (rebuilding an invalid one).
 */
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { KAGZI_MIGRATIONS } from '../migrations';
import { ClaimShare, NEW_RUN_EVERY } from '../libs/kagzi/src/persistence/claim-share';
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { RunStore } from '../libs/kagzi/src/persistence/run.store';
import { claimRuns } from '../libs/kagzi/src/persistence/sql/claim-runs.sql';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, sql } from './support/app';

const SCHEMA = 'claim_priority';
const SERVED = { names: ['prio'], versions: [1] };
const LEASE_MS = 30_000;

let db: TestDatabase;
let kagziDb: KagziDatabase;
let pg: Client;

beforeAll(async () => {
  db = await createTestDatabase('claim_priority');
  const kagzi = await bootKagzi({ url: db.url, worker: false, schema: SCHEMA });
  kagziDb = kagzi.app.get(KagziDatabase, { strict: false });
  pg = new Client({ connectionString: db.url });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await closeAllApps();
  await db?.drop();
});

beforeEach(async () => {
  await pg.query(`truncate "${SCHEMA}".workflow_runs cascade`);
});

/** `count` never-started runs, due `dueSecondsAgo` … `dueSecondsAgo - count + 1` seconds ago (oldest first); their ids in due order. */
async function insertNew(count: number, dueSecondsAgo: number, label = 'new'): Promise<string[]> {
  const { rows } = await pg.query<{ id: string }>(
    `insert into "${SCHEMA}".workflow_runs (id, workflow_name, workflow_version, status, input, due_at, created_at)
     select gen_random_uuid(), 'prio', 1, 'PENDING', json_build_object('label', $3::text || g),
            now() - ($2::int - g) * interval '1 second', now() - ($2::int - g) * interval '1 second'
     from generate_series(0, $1::int - 1) g order by g returning id`,
    [count, dueSecondsAgo, label],
  );
  return rows.map((r) => r.id);
}

/** A run claimed before, due `dueSecondsAgo` seconds ago: RUNNING with an expired lease, a SLEEPING run woken, or a handed-back PENDING one. */
async function insertResumed(status: 'RUNNING' | 'SLEEPING' | 'PENDING', dueSecondsAgo: number, epoch = 1): Promise<string> {
  const { rows } = await pg.query<{ id: string }>(
    `insert into "${SCHEMA}".workflow_runs (id, workflow_name, workflow_version, status, input, due_at, lease_owner, lease_epoch, created_at, started_at)
     values (gen_random_uuid(), 'prio', 1, $1::text, '{}', now() - $2::int * interval '1 second', case when $1::text = 'RUNNING' then 'dead-worker' end, $3::int,
             now() - interval '1 hour', now() - interval '1 hour')
     returning id`,
    [status, dueSecondsAgo, epoch],
  );
  return rows[0].id;
}

async function claim(store: RunStore, limit: number): Promise<string[]> {
  return (await store.claimRuns('tester', SERVED, limit, LEASE_MS)).map((r) => r.lease.runId);
}

describe('resumed runs before new ones', () => {
  it('claims a run whose lease expired before older never-started runs', async () => {
    await insertNew(50, 600);
    const expired = await insertResumed('RUNNING', 1);

    const store = new RunStore(kagziDb);
    expect(await claim(store, 1)).toEqual([expired]);
    const [row] = (await pg.query(`select status, lease_owner, lease_epoch from "${SCHEMA}".workflow_runs where id = $1`, [expired])).rows;
    expect(row).toEqual({ status: 'RUNNING', lease_owner: 'tester', lease_epoch: 2 });
  });

  it('never claims again a run the claiming worker still executes (its lease lapsed while its row was locked)', async () => {
    const mine = await insertResumed('RUNNING', 1);
    const other = await insertResumed('RUNNING', 2);
    const store = new RunStore(kagziDb);
    // The worker still runs `mine`: it takes only the other expired lease, and leaves its own run be.
    expect((await store.claimRuns('tester', SERVED, 10, LEASE_MS, [mine])).map((r) => r.lease.runId)).toEqual([other]);
    const [row] = (await pg.query(`select lease_epoch from "${SCHEMA}".workflow_runs where id = $1`, [mine])).rows;
    expect(row.lease_epoch).toBe(1);
    // Another worker (which does not hold it) may take it over.
    expect((await store.claimRuns('another', SERVED, 10, LEASE_MS, [other])).map((r) => r.lease.runId)).toEqual([mine]);
  });

  it('takes every kind of resumed run in due order, then the oldest new run in the reserved slot', async () => {
    const news = await insertNew(20, 600);
    const handedBack = await insertResumed('PENDING', 30, 3);
    const woken = await insertResumed('SLEEPING', 20);
    const expired = await insertResumed('RUNNING', 10);

    const store = new RunStore(kagziDb);
    const order: string[] = [];
    for (let i = 0; i < NEW_RUN_EVERY; i++) order.push(...(await claim(store, 1)));
    expect(order).toEqual([handedBack, woken, expired, news[0]]);
  });

  it('in a batch, claims the resumed runs and the reserved share of new runs, oldest first', async () => {
    const news = await insertNew(30, 600);
    const resumed = [await insertResumed('RUNNING', 9), await insertResumed('SLEEPING', 8), await insertResumed('RUNNING', 7)];

    const claimed = await claim(new RunStore(kagziDb), 10); // reserves floor(10 / 4) = 2 slots for new runs
    expect(new Set(claimed)).toEqual(new Set([...news.slice(0, 7), ...resumed]));
  });

  it('gives the slots a branch leaves empty to the other', async () => {
    const onlyNew = await insertNew(5, 60);
    expect(new Set(await claim(new RunStore(kagziDb), 10))).toEqual(new Set(onlyNew));

    const onlyResumed = [await insertResumed('RUNNING', 3), await insertResumed('SLEEPING', 2)];
    expect(new Set(await claim(new RunStore(kagziDb), 10))).toEqual(new Set(onlyResumed)); // 2 slots reserved, no new run to take them
  });
});

describe('new runs are not starved', () => {
  it('with resumed runs always due, the oldest new run is claimed within NEW_RUN_EVERY claims of one slot', async () => {
    const news = await insertNew(3, 600);
    const store = new RunStore(kagziDb);
    const claimedAt = new Map<string, number>();
    for (let n = 1; n <= 3 * NEW_RUN_EVERY; n++) {
      await insertResumed('RUNNING', 1); // a steady supply: a resumed run is always due
      for (const id of await claim(store, 1)) claimedAt.set(id, n);
    }
    expect(news.map((id) => claimedAt.get(id))).toEqual([NEW_RUN_EVERY, 2 * NEW_RUN_EVERY, 3 * NEW_RUN_EVERY]);
  });

  it('in batches of any size, at least one claimed slot in NEW_RUN_EVERY goes to a new run while one is due', async () => {
    await insertNew(200, 600);
    for (let i = 0; i < 200; i++) await insertResumed('SLEEPING', 1);
    const store = new RunStore(kagziDb);
    let slots = 0;
    let newRuns = 0;
    for (const limit of [1, 3, 10, 2, 7, 1, 1, 5, 10, 4, 1, 6]) {
      const claimed = await store.claimRuns('tester', SERVED, limit, LEASE_MS);
      slots += claimed.length;
      newRuns += claimed.filter((r) => r.lease.epoch === 1).length;
      expect(newRuns).toBeGreaterThanOrEqual(Math.floor(slots / NEW_RUN_EVERY));
    }
    expect(slots).toBe(51);
    expect(newRuns).toBe(Math.floor(51 / NEW_RUN_EVERY));
  });

  it('ClaimShare: the next slot is reserved again when a reserved one found no new run', () => {
    const share = new ClaimShare();
    const reserved: number[] = [];
    for (let i = 0; i < NEW_RUN_EVERY; i++) {
      reserved.push(share.reserved(1));
      share.record(1, reserved[i], 0);
    }
    expect(reserved).toEqual([0, 0, 0, 1]);
    share.record(1, 1, 0); // the reserved slot went to a resumed run
    expect(share.reserved(1)).toBe(1);
    share.record(1, 1, 1);
    expect(share.reserved(1)).toBe(0);
    expect(share.reserved(NEW_RUN_EVERY)).toBe(1);
  });
});

describe('claims race and schema', () => {
  it('two workers claiming at once take disjoint runs, resumed ones first', async () => {
    await insertNew(20, 600);
    const resumed = await Promise.all([1, 2, 3, 4, 5, 6].map((s) => insertResumed('RUNNING', s)));
    const [a, b] = await Promise.all([claim(new RunStore(kagziDb), 3), claim(new RunStore(kagziDb), 3)]);
    expect(new Set([...a, ...b]).size).toBe(a.length + b.length);
    expect(new Set([...a, ...b])).toEqual(new Set(resumed));
  });

  it('a claim reads a few pages whatever the backlog, also one the statistics have not seen (no sort of every due run)', async () => {
    // 20,000 due runs the planner does not know about (never analyzed: it expects a handful).
    await pg.query(
      `insert into "${SCHEMA}".workflow_runs (id, workflow_name, workflow_version, status, input, due_at, lease_epoch, created_at)
       select gen_random_uuid(), 'prio', 1, case when g % 10 = 0 then 'SLEEPING' else 'PENDING' end, '{}',
              now() - interval '1 hour' + g * interval '10 ms', case when g % 10 = 0 then 1 else 0 end, now()
       from generate_series(1, 20000) g`,
    );
    const bound = claimRuns.with({ owner: 'explain', ...SERVED, limit: 2, leaseMs: LEASE_MS, newFirst: 1 });
    const explain = async (): Promise<{ 'Actual Rows': number; 'Shared Hit Blocks': number; 'Shared Read Blocks': number }> => {
      await pg.query('begin');
      try {
        const { rows } = await pg.query<{ 'QUERY PLAN': Array<{ Plan: { 'Actual Rows': number; 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }> }>(
          `explain (analyze, buffers, format json) ${bound.text(SCHEMA)}`,
          bound.values,
        );
        return rows[0]['QUERY PLAN'][0].Plan;
      } finally {
        await pg.query('rollback');
      }
    };
    await explain(); // the first call on a connection also reads the catalog (planning, compiling due_runs)
    const plan = await explain();
    expect(plan['Actual Rows']).toBe(2);
    // Reading every due run (about 250 heap pages, in each of the two new-run branches) would be far above this.
    expect(plan['Shared Hit Blocks'] + plan['Shared Read Blocks']).toBeLessThan(150);
  });

  it("the previous release's claim statement still works on the new schema, in its own order (due time only)", async () => {
    const news = await insertNew(3, 60);
    const expired = await insertResumed('RUNNING', 1);
    const previous = (limit: number) => pg.query<{ id: string }>(PREVIOUS_CLAIM, ['old-worker', SERVED.names, SERVED.versions, limit, LEASE_MS]);
    expect((await previous(1)).rows.map((r) => r.id)).toEqual([news[0]]);
    expect((await previous(10)).rows.map((r) => r.id).sort()).toEqual([news[1], news[2], expired].sort());
    const { rows: indexes } = await pg.query<{ name: string; valid: boolean }>(
      `select c.relname as name, i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
       where i.indrelid = '"${SCHEMA}".workflow_runs'::regclass and c.relname like 'workflow_runs_due%' order by 1`,
    );
    expect(indexes).toEqual([
      { name: 'workflow_runs_due', valid: true },
      { name: 'workflow_runs_due_new', valid: true },
      { name: 'workflow_runs_due_resumed', valid: true },
    ]);
  });
});

describe('migration 15 on an existing schema', () => {
  it('keeps an index built by hand beforehand (CONCURRENTLY) and builds again one left invalid', async () => {
    const upgrade = await createTestDatabase('claim_priority_upgrade');
    let app: KagziTestApp | undefined;
    try {
      const previous = new DataSource({ type: 'postgres', url: upgrade.url, schema: 'kagzi', migrations: KAGZI_MIGRATIONS.slice(0, 14), migrationsTableName: 'kagzi_migrations' });
      await previous.initialize();
      await previous.query('create schema kagzi');
      await previous.runMigrations({ transaction: 'each' });
      await previous.query('create index concurrently workflow_runs_due_resumed on kagzi.workflow_runs (due_at) where due_at is not null and lease_epoch > 0');
      await previous.query('create index concurrently workflow_runs_due_new on kagzi.workflow_runs (due_at) where due_at is not null and lease_epoch = 0');
      // what a concurrent build that failed halfway leaves behind
      await previous.query(`update pg_index set indisvalid = false where indexrelid = 'kagzi.workflow_runs_due_new'::regclass`);
      const indexes = `select c.relname as name, c.oid::int as oid, i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
                       where c.relname in ('workflow_runs_due_resumed', 'workflow_runs_due_new') order by 1`;
      const before: Array<{ name: string; oid: number; valid: boolean }> = await previous.query(indexes);
      await previous.destroy();

      app = await bootKagzi({ url: upgrade.url, worker: false });
      const after = await sql<{ name: string; oid: number; valid: boolean }>(upgrade.url, indexes);
      expect(before.map((i) => i.valid)).toEqual([false, true]);
      expect(after.map((i) => i.valid)).toEqual([true, true]);
      expect(after[0].oid).not.toBe(before[0].oid); // workflow_runs_due_new: built again
      expect(after[1].oid).toBe(before[1].oid); // workflow_runs_due_resumed: kept
    } finally {
      await app?.close();
      await upgrade.drop();
    }
  });
});

/** The claim statement of the release before migration 15 (due order only), as an old worker still sends it. */
const PREVIOUS_CLAIM = `
with due as (
  select id, due_at from "${SCHEMA}".workflow_runs
  where due_at <= now()
    and (workflow_name, workflow_version) in (select * from unnest($2::text[], $3::int[]))
  order by due_at
  limit $4::int
  for update skip locked
)
update "${SCHEMA}".workflow_runs r
set status = 'RUNNING', lease_owner = $1::text, lease_epoch = r.lease_epoch + 1,
    due_at = now() + $5::double precision * interval '1 millisecond',
    started_at = coalesce(r.started_at, now()), updated_at = now()
from due where r.id = due.id
returning r.id, r.lease_epoch`;
