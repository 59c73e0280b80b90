/**
 * A run whose execution this worker stopped (the lease deadline passed while heartbeats hung or the
 * database was away) while a step body of it still runs, is not claimed again by this worker until that
 * body ends: the worker forgets a run when its execution stops, not when its step bodies end, and once
 * heartbeats worked again it claimed the run (its lease had lapsed) and entered the same step body a
 * second time beside the first. Another worker may still take the run over; the old body's record is
 * then refused by the new epoch. Here the first entry of the body takes 4 s and ignores its abort signal.
 */
import { Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { Step, Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { adminUrl, createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();
/** Entries of the body under way now, and the most at once, per id. */
const inside = new Map<string, number>();
const mostInside = new Map<string, number>();

@Injectable()
class SlowBody {
  @Step({ name: 'Reclaim.slow' })
  async work(id: string): Promise<string> {
    inside.set(id, (inside.get(id) ?? 0) + 1);
    mostInside.set(id, Math.max(mostInside.get(id) ?? 0, inside.get(id)!));
    try {
      // The first entry outlasts the outage and ignores its abort signal; a later one (the resumed run) is quick.
      if (effects.enter('slow', id) === 1) await new Promise((resolve) => setTimeout(resolve, 4_000));
      return effects.leave('slow', id, id);
    } finally {
      inside.set(id, inside.get(id)! - 1);
    }
  }
}

@Workflow({ name: 'Reclaim.Deadline' })
class DeadlineWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly body: SlowBody) {}
  async run(input: { id: string }): Promise<string> {
    return this.body.work(input.id);
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('stopped_run_reclaim');
  kagzi = await bootKagzi({ url: db.url, providers: [SlowBody, DeadlineWorkflow] });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

it('a run stopped by the lease deadline is not claimed again by the same worker while its step body still executes', async () => {
  const handle = await kagzi.client.start(DeadlineWorkflow, { id: 'a' });
  for (let i = 0; i < 200 && effects.count('slow', 'a') === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(effects.count('slow', 'a')).toBe(1);

  // Heartbeats hang (the worker's row is locked): the deadline stops the run, the body goes on.
  const other = new Client({ connectionString: db.url });
  await other.connect();
  try {
    await other.query('begin');
    await other.query('select id from kagzi.workers where id = $1 for update', [kagzi.worker.id]);
    await new Promise((resolve) => setTimeout(resolve, 2_700));
    await other.query('commit');
  } finally {
    await other.end();
  }
  // Heartbeats work again: the run completes (resumed once the first body ended), its body never entered twice at once.
  await expect(handle.result({ timeout: '20s' })).resolves.toBe('a');
  expect(mostInside.get('a')).toBe(1);
  expect(effects.count('slow', 'a')).toBe(2);
});

/** A real outage of this file's database (as test/outages.spec.ts makes one): no new sessions, open ones cut. */
async function outage(ms: number): Promise<void> {
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections false`);
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [db.name]);
    await new Promise((resolve) => setTimeout(resolve, ms));
    await admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections true`);
  } finally {
    await admin.end();
  }
}

it('after a database outage longer than the lease deadline, the same worker does not run the step body again beside the first', async () => {
  const handle = await kagzi.client.start(DeadlineWorkflow, { id: 'b' });
  for (let i = 0; i < 200 && effects.count('slow', 'b') === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(effects.count('slow', 'b')).toBe(1);
  await outage(2_500);
  await expect(handle.result({ timeout: '20s' })).resolves.toBe('b');
  expect(mostInside.get('b')).toBe(1);
  expect(effects.count('slow', 'b')).toBe(2);
});
