/**
 * A heartbeat never waits for a run row another transaction has locked: it skips that row for this beat
 * and extends the others. Waiting could deadlock with a child's end (which locks the child's row, then
 * its parent's) and, while it waits, no lease of the worker is renewed. Here another session holds one
 * held run's row for longer than a lease; the worker's other run must keep its lease (one claim, its
 * step body run once), and the locked run, whose lease lapsed meanwhile, is not claimed again by the
 * worker that still runs it.
 */
import { Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { Step, Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, sql } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();

@Injectable()
class Slow {
  @Step({ name: 'Slow.work' })
  async work(id: string): Promise<string> {
    effects.enter('work', id);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    return id;
  }
}

@Workflow({ name: 'Locks.Slow' })
class SlowWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly slow: Slow) {}
  async run(input: { id: string }): Promise<string> {
    return this.slow.work(input.id);
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('heartbeat_locks');
  kagzi = await bootKagzi({ url: db.url, providers: [Slow, SlowWorkflow] });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

it('a row locked elsewhere for longer than a lease does not cost the worker its other leases', async () => {
  const locked = await kagzi.client.start(SlowWorkflow, { id: 'locked' });
  const free = await kagzi.client.start(SlowWorkflow, { id: 'free' });
  for (let i = 0; i < 100 && (effects.count('work', 'locked') === 0 || effects.count('work', 'free') === 0); i++) await new Promise((r) => setTimeout(r, 20));
  const other = new Client({ connectionString: db.url });
  await other.connect();
  try {
    await other.query('begin');
    await other.query('select id from kagzi.workflow_runs where id = $1 for update', [locked.runId]);
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // longer than the 2 s lease
    await other.query('commit');
  } finally {
    await other.end();
  }
  expect(await free.result({ timeout: '10s' })).toBe('free');
  expect(effects.count('work', 'free')).toBe(1);
  const [row] = await sql<{ lease_epoch: number }>(db.url, 'select lease_epoch from kagzi.workflow_runs where id = $1', [free.runId]);
  expect(row.lease_epoch).toBe(1);
  // Its own lease lapsed while the row was locked (the heartbeat skipped it): the worker, which still
  // runs it, does not claim it again beside itself; the next beat renews it.
  await expect(locked.result({ timeout: '15s' })).resolves.toBe('locked');
  expect(effects.count('work', 'locked')).toBe(1);
  const [again] = await sql<{ lease_epoch: number }>(db.url, 'select lease_epoch from kagzi.workflow_runs where id = $1', [locked.runId]);
  expect(again.lease_epoch).toBe(1);
});
