/**
 * Taking a signal is one fenced statement (consume-signal.sql.ts) that RunWriter repeats when its
 * connection fails, and a connection can fail after the statement committed (a restart or a network cut
 * between the commit and its reply). Repeated under the same wait key, it must return the wait's record
 * and consume nothing more: it used to mark the next signal of the name consumed by that same wait, and
 * the run's next wait for the name then waited forever.
 */
import { Injectable } from '@nestjs/common';
import { Step, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { SignalStore } from '../libs/kagzi/src/persistence/signal.store';
import { BoundStatement } from '../libs/kagzi/src/persistence/statement';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, deferred, KagziTestApp, sql, waitFor } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();
const gate = deferred();

@Injectable()
class Gate {
  @Step({ name: 'Review.signalGate' })
  async pass(): Promise<void> {
    effects.enter('gate');
    await gate.promise;
  }
}

@Workflow({ name: 'Review.TwoItems' })
class TwoItems implements WorkflowDefinition<Record<string, never>, unknown[]> {
  constructor(private readonly gate: Gate) {}
  async run(_: Record<string, never>, ctx: WorkflowContext): Promise<unknown[]> {
    await this.gate.pass();
    const a = await ctx.waitForSignal('item');
    const b = await ctx.waitForSignal('item');
    return [a, b];
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('signal_take_retry');
  kagzi = await bootKagzi({ url: db.url, providers: [Gate, TwoItems] });
});

afterEach(() => jest.restoreAllMocks());

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

it('statement level: taking a signal again under the same wait key (a retried write) consumes no second signal', async () => {
  const signals = new SignalStore(kagzi.app.get(KagziDatabase, { strict: false }));
  const [{ id }] = await sql<{ id: string }>(
    db.url,
    `insert into kagzi.workflow_runs (id, workflow_name, workflow_version, status, input, due_at, lease_owner, lease_epoch, started_at)
     values (gen_random_uuid(), 'Review.Other', 1, 'RUNNING', '1', now() + interval '1 minute', 'w', 1, now()) returning id`,
  );
  await kagzi.client.signal(id, 'item', 1);
  await kagzi.client.signal(id, 'item', 2);
  const lease = { runId: id, owner: 'w', epoch: 1 };
  const wait = { name: 'item', timedOut: false, timeoutOutput: '{"json":null}' };
  const first = await signals.take(lease, { key: '$signal#1', ...wait });
  const retried = await signals.take(lease, { key: '$signal#1', ...wait }); // what RunWriter sends after a lost reply
  expect(retried).toEqual(first);
  const next = await signals.take(lease, { key: '$signal#2', ...wait });
  const rows = await sql(db.url, 'select id, payload, consumed_by from kagzi.signals where workflow_run_id = $1 order by id', [id]);
  expect(rows).toEqual([{ id: expect.anything(), payload: { json: 1 }, consumed_by: '$signal#1' }, { id: expect.anything(), payload: { json: 2 }, consumed_by: '$signal#2' }]);
  expect(next.kind).toBe('taken');
});

it('worker level: a connection cut after the first take committed loses neither signal of the name', async () => {
  const database = kagzi.app.get(KagziDatabase, { strict: false });
  const real = database.run.bind(database);
  let cut = false;
  // The reply of the first consumeSignal is lost after its commit (what a restart at that instant does).
  jest.spyOn(database, 'run').mockImplementation(async (statement: BoundStatement) => {
    const rows = await real(statement);
    if (statement.name === 'consumeSignal' && !cut) {
      cut = true;
      throw new Error('Connection terminated unexpectedly');
    }
    return rows as never;
  });
  const handle = await kagzi.client.start(TwoItems, {});
  await waitFor('the gate step', () => effects.count('gate') === 1);
  await kagzi.client.signal(handle.runId, 'item', 'first');
  await kagzi.client.signal(handle.runId, 'item', 'second');
  gate.resolve();
  const outcome = await handle.result({ timeout: '6s' }).catch((err: unknown) => `no result: ${String(err)}`);
  const rows = await sql(db.url, 'select payload, consumed_by from kagzi.signals where workflow_run_id = $1 order by id', [handle.runId]);
  const [run] = await sql(db.url, 'select status from kagzi.workflow_runs where id = $1', [handle.runId]);
  expect(run).toEqual({ status: 'COMPLETED' });
  expect(rows.map((r) => r.consumed_by)).toEqual(['$signal#1', '$signal#2']);
  expect(cut).toBe(true);
  expect(outcome).toEqual(['first', 'second']);
});
