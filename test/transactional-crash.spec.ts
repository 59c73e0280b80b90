/**
 * Transactional steps across a SIGKILL (SPEC §5.7), with real worker processes: killed after the body
 * wrote its row but before the commit, the row never appears and the step runs once more in the next
 * worker; killed after the commit, the row exists once and the step is never run again. Rows are counted
 * in the app's table; the step bodies report each write.
 */
import { join } from 'node:path';
import { WorkflowClient } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, sql } from './support/app';
import { FixtureProcess } from './support/fixture-process';

const FIXTURE = join(__dirname, 'fixtures', 'tx-worker-process.ts');

class TxProcess extends FixtureProcess {
  constructor(label: string, env: Record<string, string>) {
    super(label, FIXTURE, env, 20_000);
  }
}

let db: TestDatabase;
let client: WorkflowClient;
const processes = new Set<TxProcess>();

beforeAll(async () => {
  db = await createTestDatabase('transactional_crash');
  client = (await bootKagzi({ url: db.url, worker: false })).client;
  await sql(db.url, 'create table public.tx_effects (order_id text not null, worker text not null, pid int not null)');
});

afterEach(async () => {
  // A worker of one test must not serve the next test's run.
  await Promise.all([...processes].map((p) => p.forceStop()));
  processes.clear();
});

afterAll(async () => {
  await Promise.all([...processes].map((p) => p.forceStop()));
  await closeAllApps();
  await db?.drop();
});

async function worker(label: string, env: Record<string, string> = {}): Promise<TxProcess> {
  const p = new TxProcess(label, { DB_URL: db.url, ...env });
  processes.add(p);
  await p.waitFor('ready', (e) => e.event === 'ready');
  return p;
}

const rowsOf = (orderId: string): Promise<Array<{ worker: string }>> => sql<{ worker: string }>(db.url, 'select worker from public.tx_effects where order_id = $1', [orderId]);

test('SIGKILL after the body wrote but before the commit: no row remains; the next worker runs the step once and its row exists once', async () => {
  const a = await worker('tx-A', { HOLD_RESERVE_MS: '60000' });
  const handle = await client.start('TxOrder', 'o-before');
  await a.waitFor('the body wrote its row', (e) => e.event === 'reserve-written' && e.orderId === 'o-before');
  expect(await rowsOf('o-before')).toEqual([]); // written in the step's open transaction: invisible
  await a.kill('SIGKILL');
  await a.waitForExit();
  expect(await rowsOf('o-before')).toEqual([]); // rolled back by PostgreSQL when the connection died
  const b = await worker('tx-B');
  await expect(client.getHandle(handle.runId).result({ timeout: '20s' })).resolves.toBe('shipped o-before by tx-B');
  expect(await rowsOf('o-before')).toEqual([{ worker: 'tx-B' }]);
  expect(b.events.filter((e) => e.event === 'reserve-written' && e.orderId === 'o-before')).toHaveLength(1);
});

test('SIGKILL after the commit: the row exists once and the step is replayed, never run again', async () => {
  const a = await worker('tx-C', { HOLD_SHIP_MS: '60000' });
  const handle = await client.start('TxOrder', 'o-after');
  await a.waitFor('ship entered (reserve committed)', (e) => e.event === 'ship-entered' && e.orderId === 'o-after');
  expect(await rowsOf('o-after')).toEqual([{ worker: 'tx-C' }]);
  await a.kill('SIGKILL');
  await a.waitForExit();
  const d = await worker('tx-D');
  await expect(client.getHandle(handle.runId).result({ timeout: '20s' })).resolves.toBe('shipped o-after by tx-D');
  expect(await rowsOf('o-after')).toEqual([{ worker: 'tx-C' }]);
  expect(d.events.filter((e) => e.event === 'reserve-written' && e.orderId === 'o-after')).toEqual([]);
});
