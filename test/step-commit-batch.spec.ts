/**
 * Group commit of step records (step-commit.batcher.ts): records submitted together go in one
 * statement, each still fenced by its own run's lease; a batch statement that fails is replayed one
 * record at a time, so one run's trouble is never another's. The group finish of runs
 * (finish.batcher.ts) likewise, with a child run's end left to the statement that tells its parent.
 * Then, end to end: concurrent runs whose steps count their calls record every step exactly once with
 * fewer commit statements than steps.
 */
import { Injectable } from '@nestjs/common';
import { Step, Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { QueryConfig } from 'pg';
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { RunStore } from '../libs/kagzi/src/persistence/run.store';
import { StepRecord } from '../libs/kagzi/src/persistence/step-commit.batcher';
import { Lease } from '../libs/kagzi/src/persistence/store.types';
import { createTestDatabase, TestDatabase } from './support/database';
import { recordQueries, statementNames } from './support/sent-queries';
import { bootKagzi, CallCounter, closeAllApps, sql } from './support/app';

const SCHEMA = 'step_commit_batch';

@Injectable()
class Calls extends CallCounter {}

@Workflow({ name: 'batched' })
class BatchedWorkflow implements WorkflowDefinition<number, number> {
  constructor(private readonly calls: Calls) {}

  async run(n: number): Promise<number> {
    return this.c(await this.b(await this.a(n)));
  }

  @Step()
  async a(n: number): Promise<number> {
    this.calls.bump('a', String(n));
    return n + 1;
  }

  @Step()
  async b(n: number): Promise<number> {
    this.calls.bump('b', String(n));
    return n + 1;
  }

  @Step()
  async c(n: number): Promise<number> {
    this.calls.bump('c', String(n));
    return n + 1;
  }
}

let db: TestDatabase;
let store: RunStore;
let queries: QueryConfig[];

beforeAll(async () => {
  db = await createTestDatabase('step_commit_batch');
  const kagzi = await bootKagzi({ url: db.url, worker: false, schema: SCHEMA });
  store = new RunStore(kagzi.app.get(KagziDatabase, { strict: false }));
});

beforeEach(async () => {
  await sql(db.url, `truncate "${SCHEMA}".workflow_runs cascade`);
  queries = recordQueries();
});

afterEach(() => jest.restoreAllMocks());

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

/** `count` RUNNING runs held by 'tester' at epoch 1: their leases. */
async function heldRuns(count: number): Promise<Lease[]> {
  const rows = await sql<{ id: string }>(
    db.url,
    `insert into "${SCHEMA}".workflow_runs (id, workflow_name, workflow_version, status, input, due_at, lease_owner, lease_epoch, started_at)
     select gen_random_uuid(), 'batched', 1, 'RUNNING', '1', now() + interval '1 minute', 'tester', 1, now() from generate_series(1, $1::int) returning id`,
    [count],
  );
  return rows.map((r) => ({ runId: r.id, owner: 'tester', epoch: 1 }));
}

const record = (key: string, output: string): StepRecord => ({
  key, name: 'S.step', status: 'COMPLETED', argsHash: 'h', output, error: null, startedAt: new Date(), attempt: 1,
});

const named = (name: string): number => statementNames(queries).filter((n) => n.endsWith(`_${name}`) || n === name).length;
const stepCount = async (): Promise<number> => (await sql<{ n: number }>(db.url, `select count(*)::int as n from "${SCHEMA}".step_runs`))[0].n;
const attemptCount = async (): Promise<number> => (await sql<{ n: number }>(db.url, `select count(*)::int as n from "${SCHEMA}".step_attempts`))[0].n;

test('records submitted together go in one statement, each written once with its output and attempt', async () => {
  const leases = await heldRuns(6);
  const outputs = ['{"json":1}', '"text with \\"quotes\\" and ünïcode"', 'null', '[1,2,3]', '{"json":{"nested":[true]}}', '0'];
  const outcomes = await Promise.all(leases.map((lease, i) => store.commitStep(lease, record(`k#${i}`, outputs[i]))));
  expect(outcomes).toEqual(leases.map(() => ({ kind: 'committed' })));
  expect(named('commitSteps')).toBe(1);
  expect(named('commitStep')).toBe(0);
  const rows = await sql<{ workflow_run_id: string; output: string }>(db.url, `select workflow_run_id, output::text from "${SCHEMA}".step_runs`);
  expect(new Map(rows.map((r) => [r.workflow_run_id, r.output]))).toEqual(new Map(leases.map((l, i) => [l.runId, outputs[i]])));
  expect(await attemptCount()).toBe(6);
});

test('each record keeps its own fence: a stale lease in the batch writes nothing, the others commit', async () => {
  const leases = await heldRuns(3);
  const stale = { ...leases[1], epoch: 0 };
  const outcomes = await Promise.all([store.commitStep(leases[0], record('k', '1')), store.commitStep(stale, record('k', '2')), store.commitStep(leases[2], record('k', '3'))]);
  expect(outcomes.map((o) => o.kind)).toEqual(['committed', 'lost', 'committed']);
  expect(await stepCount()).toBe(2);
  // A step recorded before is reported as such, in a batch too.
  const again = await Promise.all([store.commitStep(leases[0], record('k', '9')), store.commitStep(leases[2], record('k2', '4'))]);
  expect(again.map((o) => o.kind)).toEqual(['exists', 'committed']);
});

test("a batch that fails is sent again one record at a time: only the failing record's caller sees the error", async () => {
  await sql(db.url, `create function "${SCHEMA}".refuse_step() returns trigger language plpgsql as $$ begin raise exception 'step % refused', new.step_key; end $$`);
  await sql(db.url, `create trigger refuse_step before insert on "${SCHEMA}".step_runs for each row when (new.step_key = 'bad') execute function "${SCHEMA}".refuse_step()`);
  try {
    const leases = await heldRuns(3);
    const settled = await Promise.allSettled([store.commitStep(leases[0], record('good', '1')), store.commitStep(leases[1], record('bad', '2')), store.commitStep(leases[2], record('good', '3'))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/step bad refused/);
    expect(named('commitSteps')).toBe(1);
    expect(named('commitStep')).toBe(3);
    expect(await stepCount()).toBe(2);
    expect(await attemptCount()).toBe(2);
  } finally {
    await sql(db.url, `drop trigger refuse_step on "${SCHEMA}".step_runs`);
  }
});

test('a lone record goes at once in the one-record statement', async () => {
  const [lease] = await heldRuns(1);
  await expect(store.commitStep(lease, record('solo', '1'))).resolves.toEqual({ kind: 'committed' });
  expect([named('commitStep'), named('commitSteps')]).toEqual([1, 0]);
});

test('ends submitted together finish in one statement, each fenced; a lost lease writes nothing; a child run is finished alone (its parent hears of it)', async () => {
  const leases = await heldRuns(4);
  // The third is a child: its end must reach its parent, which the group statement leaves to finish-run.sql.ts.
  const [parent] = await heldRuns(1);
  await sql(db.url, `update "${SCHEMA}".workflow_runs set parent_run_id = $1 where id = $2`, [parent.runId, leases[2].runId]);
  queries.length = 0;
  const stale = { ...leases[1], epoch: 7 };
  const ends = await Promise.all([
    store.finishRun(leases[0], 'COMPLETED', '{"json":1}', null),
    store.finishRun(stale, 'COMPLETED', '{"json":2}', null),
    store.finishRun(leases[2], 'COMPLETED', '{"json":3}', null),
    store.finishRun(leases[3], 'FAILED', null, { name: 'StepError', kind: 'UNKNOWN', message: 'boom', retryable: false, attempt: 1, stepName: 's', occurredAt: new Date().toISOString() } as never),
  ]);
  expect(ends).toEqual([true, false, true, true]);
  expect(named('finishRuns')).toBe(1);
  expect(named('finishRun')).toBe(2); // the child, and the stale lease (which then writes nothing)
  const rows = await sql<{ id: string; status: string; output: unknown }>(db.url, `select id, status, output from "${SCHEMA}".workflow_runs where id = any($1::uuid[])`, [leases.map((l) => l.runId)]);
  const byId = new Map(rows.map((r) => [r.id, [r.status, r.output]]));
  expect(byId.get(leases[0].runId)).toEqual(['COMPLETED', { json: 1 }]);
  expect(byId.get(leases[1].runId)).toEqual(['RUNNING', null]);
  expect(byId.get(leases[2].runId)).toEqual(['COMPLETED', { json: 3 }]);
  expect(byId.get(leases[3].runId)?.[0]).toBe('FAILED');
  // The parent heard of its child's end: the signal the single statement sends.
  const [{ n }] = await sql<{ n: number }>(db.url, `select count(*)::int as n from "${SCHEMA}".signals where workflow_run_id = $1`, [parent.runId]);
  expect(n).toBe(1);
});

test('end to end: 40 concurrent runs record each of their 120 steps exactly once, in fewer statements than steps', async () => {
  const kagzi = await bootKagzi({ url: db.url, schema: `${SCHEMA}_e2e`, providers: [Calls, BatchedWorkflow], worker: { concurrency: 20 } });
  const handles = await Promise.all(Array.from({ length: 40 }, (_, i) => kagzi.client.start(BatchedWorkflow, i * 10)));
  expect(await Promise.all(handles.map((h) => h.result({ timeout: '20s' })))).toEqual(Array.from({ length: 40 }, (_, i) => i * 10 + 3));
  const calls = kagzi.app.get(Calls);
  for (let i = 0; i < 40; i++) expect([calls.get('a', String(i * 10)), calls.get('b', String(i * 10 + 1)), calls.get('c', String(i * 10 + 2))]).toEqual([1, 1, 1]);
  const [{ n }] = await sql<{ n: number }>(db.url, `select count(*)::int as n from "${SCHEMA}_e2e".step_runs where status = 'COMPLETED'`);
  expect(n).toBe(120);
  expect(named('commitSteps') + named('commitStep')).toBeLessThan(120);
  await kagzi.close();
});
