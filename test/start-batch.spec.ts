/**
 * Group insert of `start()` calls (client/start.batcher.ts): starts made while one is in flight go
 * together in one statement, each keeping what `start()` means — its own run (counted rows), an
 * idempotency key naming one run however many concurrent starts carry it, a version that cannot be used
 * failing that start alone with its typed error, and runs that complete through the worker.
 */
import { Workflow, WorkflowDefinition, WorkflowVersionNotFoundError } from '@kagzi/nestjs';
import { QueryConfig } from 'pg';
import { createTestDatabase, TestDatabase } from './support/database';
import { recordQueries, statementNames } from './support/sent-queries';
import { bootKagzi, closeAllApps, KagziTestApp, sql } from './support/app';

@Workflow({ name: 'Grouped', version: 1 })
class GroupedWorkflow implements WorkflowDefinition<number, number> {
  async run(n: number): Promise<number> {
    return n * 2;
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;
let queries: QueryConfig[];

beforeAll(async () => {
  db = await createTestDatabase('start_batch');
  kagzi = await bootKagzi({ url: db.url, providers: [GroupedWorkflow] });
});

beforeEach(() => {
  queries = recordQueries();
});

afterEach(() => jest.restoreAllMocks());

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

const inserts = (): number => statementNames(queries).filter((n) => /_insertRuns?$/.test(n)).length;
const rowCount = async (where = 'true', params: unknown[] = []): Promise<number> =>
  (await sql<{ n: number }>(db.url, `select count(*)::int as n from kagzi.workflow_runs where ${where}`, params))[0].n;

test('100 starts at once: every one gets its own run, in far fewer insert statements, and every run completes', async () => {
  const before = await rowCount();
  const handles = await Promise.all(Array.from({ length: 100 }, (_, i) => kagzi.client.start(GroupedWorkflow, i)));
  expect(new Set(handles.map((h) => h.runId)).size).toBe(100);
  expect(await rowCount()).toBe(before + 100);
  expect(inserts()).toBeLessThan(20);
  expect(statementNames(queries).filter((n) => n.endsWith('_insertRuns')).length).toBeGreaterThan(0);
  await expect(Promise.all(handles.map((h) => h.result({ timeout: '20s' })))).resolves.toEqual(Array.from({ length: 100 }, (_, i) => i * 2));
});

test('one idempotency key carried by 30 concurrent starts names one run, also when the key was used before', async () => {
  const fresh = await Promise.all(Array.from({ length: 30 }, () => kagzi.client.start(GroupedWorkflow, 7, { idempotencyKey: 'order-7' })));
  expect(new Set(fresh.map((h) => h.runId)).size).toBe(1);
  expect(await rowCount('idempotency_key = $1', ['order-7'])).toBe(1);
  const again = await Promise.all(Array.from({ length: 10 }, (_, i) => kagzi.client.start(GroupedWorkflow, i, { idempotencyKey: i % 2 ? 'order-7' : `other-${i}` })));
  expect(again.filter((_, i) => i % 2).every((h) => h.runId === fresh[0].runId)).toBe(true);
  expect(new Set(again.filter((_, i) => i % 2 === 0).map((h) => h.runId)).size).toBe(5);
  expect(await rowCount("idempotency_key like 'other-%'")).toBe(5);
});

test('a start asking for a version that does not exist fails alone with its typed error; the starts grouped with it succeed', async () => {
  const before = await rowCount();
  const settled = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => kagzi.client.start(GroupedWorkflow, i, i === 10 ? { version: 99 } : {})),
  );
  expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(1);
  expect((settled[10] as PromiseRejectedResult).reason).toBeInstanceOf(WorkflowVersionNotFoundError);
  expect(await rowCount()).toBe(before + 19);
});
