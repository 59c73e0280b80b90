/**
 * A `wakeup` notification (payload: the workflow's name) makes a worker claim only when it serves that
 * workflow: a worker limited by `worker.workflows` is not woken by the starts of the others, which it
 * could not claim. Two workers on one database, each serving one workflow and polling only every 30 s,
 * so every claim counted here was caused by a notification.
 */
import { QueryConfig } from 'pg';
import { Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, sql } from './support/app';
import { recordQueries } from './support/sent-queries';

@Workflow({ name: 'Wake.Mine' })
class MineWorkflow implements WorkflowDefinition<string, string> {
  async run(id: string): Promise<string> {
    return `mine ${id}`;
  }
}

@Workflow({ name: 'Wake.Theirs' })
class TheirsWorkflow implements WorkflowDefinition<string, string> {
  async run(id: string): Promise<string> {
    return `theirs ${id}`;
  }
}

let db: TestDatabase;
let mine: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('wakeups');
  const providers = [MineWorkflow, TheirsWorkflow];
  mine = await bootKagzi({ url: db.url, providers, worker: { name: 'wake-mine', workflows: ['Wake.Mine'], pollInterval: '30s' } });
  await bootKagzi({ url: db.url, providers, worker: { name: 'wake-theirs', workflows: ['Wake.Theirs'], pollInterval: '30s' } });
});

afterAll(async () => {
  jest.restoreAllMocks();
  await closeAllApps();
  await db?.drop();
});

const isClaim = (q: QueryConfig): boolean => typeof q.name === 'string' && q.name.endsWith('_claimRuns');
const claimsBy = (sent: QueryConfig[], worker: string): number => sent.filter((q) => isClaim(q) && q.values?.[0] === worker).length;

it('a worker is not woken by the starts of a workflow it does not serve, and is by its own', async () => {
  await new Promise((resolve) => setTimeout(resolve, 300)); // the boot claims are over
  const sent = recordQueries(isClaim);
  const theirs = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => mine.client.start(TheirsWorkflow, id)));
  for (const [i, handle] of theirs.entries()) await expect(handle.result({ timeout: '10s' })).resolves.toBe(`theirs ${'abcde'[i]}`);
  expect(claimsBy(sent, 'wake-theirs')).toBeGreaterThanOrEqual(1);
  expect(claimsBy(sent, 'wake-mine')).toBe(0);

  // Its own workflow's start wakes it at once (its poll is 30 s away).
  const own = await mine.client.start(MineWorkflow, 'm');
  await expect(own.result({ timeout: '5s' })).resolves.toBe('mine m');
  expect(claimsBy(sent, 'wake-mine')).toBeGreaterThanOrEqual(1);
});

it('one insert of runs of several workflows wakes the workers of each (startMany, and start() calls grouped)', async () => {
  const [m1, t1] = await mine.client.startMany([
    { workflow: MineWorkflow, input: 'many-m' },
    { workflow: TheirsWorkflow, input: 'many-t' },
  ]);
  // Polls are 30 s away: only the wakeups can bring these in time.
  await expect(t1.result({ timeout: '5s' })).resolves.toBe('theirs many-t');
  await expect(m1.result({ timeout: '5s' })).resolves.toBe('mine many-m');

  const grouped = await Promise.all(
    Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? mine.client.start(MineWorkflow, `g${i}`) : mine.client.start(TheirsWorkflow, `g${i}`))),
  );
  const results = await Promise.all(grouped.map((h) => h.result({ timeout: '5s' })));
  expect(results).toEqual(Array.from({ length: 12 }, (_, i) => `${i % 2 === 0 ? 'mine' : 'theirs'} g${i}`));
});

it('after its LISTEN session is cut and comes back, a worker claims what became due meanwhile (the wakeups it missed)', async () => {
  // Cut every LISTEN session of this database; the start below notifies while they are down.
  await sql(db.url, `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'listen %' and pid <> pg_backend_pid()`);
  const handle = await mine.client.start(MineWorkflow, 'after-cut');
  // Polls are 30 s away: only the wakeup sent when the session is back brings the run in time.
  await expect(handle.result({ timeout: '8s' })).resolves.toBe('mine after-cut');
});
