/**
 * How `result()` learns a run's end. A run started by this process is awaited on its `finished`
 * notification alone (no first read), unless that notification may already have gone by: the run
 * ended before anyone waited, or the LISTEN session was lost in between. The worker polls once an
 * hour here, so a missed notification would show as a result() that times out, not as a slow one.
 */
import { Injectable } from '@nestjs/common';
import { Step, Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { QueryConfig } from 'pg';
import { createTestDatabase, TestDatabase } from './support/database';
import { recordQueries, statementNames } from './support/sent-queries';
import { bootKagzi, closeAllApps, deferred, Deferred, KagziTestApp, sql, waitFor } from './support/app';

@Injectable()
class Gate {
  open: Deferred = deferred();
}

@Workflow({ name: 'result-wait' })
class GatedWorkflow implements WorkflowDefinition<number, number> {
  constructor(private readonly gate: Gate) {}

  async run(n: number): Promise<number> {
    return this.pass(n);
  }

  @Step()
  async pass(n: number): Promise<number> {
    await this.gate.open.promise;
    return n + 1;
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;
let queries: QueryConfig[];

beforeAll(async () => {
  db = await createTestDatabase('result_wait');
  // An hour between polls: every wake-up and every result in this file comes by notification, or not at all.
  kagzi = await bootKagzi({ url: db.url, providers: [Gate, GatedWorkflow], worker: { pollInterval: '1h' } });
});

beforeEach(() => {
  kagzi.app.get(Gate).open = deferred();
  queries = recordQueries();
});

afterEach(() => jest.restoreAllMocks());

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

const outcomeReads = (): number => statementNames(queries).filter((name) => /getRunOutcome/.test(name)).length;
const status = async (runId: string): Promise<string> => (await sql<{ status: string }>(db.url, 'select status from kagzi.workflow_runs where id = $1', [runId]))[0].status;

test('result() of a run started here sends no read: the finished notification carries the outcome', async () => {
  const handles = await Promise.all([1, 2, 3].map((n) => kagzi.client.start(GatedWorkflow, n)));
  const results = Promise.all(handles.map((h) => h.result({ timeout: '10s' })));
  kagzi.app.get(Gate).open.resolve();
  await expect(results).resolves.toEqual([2, 3, 4]);
  expect(outcomeReads()).toBe(0);
});

test('a run started here that ended before result() was called is read once', async () => {
  kagzi.app.get(Gate).open.resolve();
  const handle = await kagzi.client.start(GatedWorkflow, 10);
  await waitFor('the run to complete', async () => (await status(handle.runId)) === 'COMPLETED');
  await expect(handle.result({ timeout: '5s' })).resolves.toBe(11);
  expect(outcomeReads()).toBe(1);
});

test('a run that ended while the LISTEN session was lost is read, not waited for', async () => {
  const handle = await kagzi.client.start(GatedWorkflow, 20);
  await waitFor('the step to start', async () => (await status(handle.runId)) === 'RUNNING');
  // Drop the LISTEN connection, then let the run end before it is back: its notification is lost.
  await sql(db.url, "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'listen %'");
  kagzi.app.get(Gate).open.resolve();
  await waitFor('the run to complete', async () => (await status(handle.runId)) === 'COMPLETED');
  await expect(handle.result({ timeout: '5s' })).resolves.toBe(21);
  expect(outcomeReads()).toBe(1);
});

test('a run started by another process is read once first (it may have ended long ago)', async () => {
  const other = await bootKagzi({ url: db.url, worker: false });
  kagzi.app.get(Gate).open.resolve();
  const handle = await kagzi.client.start(GatedWorkflow, 30);
  await expect(handle.result({ timeout: '5s' })).resolves.toBe(31);
  queries.length = 0;
  await expect(other.client.getHandle<number>(handle.runId).result({ timeout: '5s' })).resolves.toBe(31);
  expect(outcomeReads()).toBe(1);
  await other.close();
});
