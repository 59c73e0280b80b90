/**
 * A child started by the parent's code after a cancel of the parent was requested, but before the
 * parent's worker delivered it (its `cancel` notification in flight, or missed and brought by the next
 * heartbeat), is cancelled with the parent. cancel-run.sql.ts leaves children created after the request
 * alone (they are the compensation a cancelled run starts), so start-child.sql.ts inserts such a child
 * with the parent's pending request; it used to live on after its parent ended CANCELLED.
 */
import { Injectable } from '@nestjs/common';
import { Step, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, deferred, KagziTestApp, sql, waitFor, waitForStatus } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();
const gate = deferred();

@Injectable()
class Gate {
  @Step({ name: 'PendingCancel.gate' })
  async pass(id: string): Promise<string> {
    effects.enter('gate', id);
    await gate.promise;
    return id;
  }
}

@Workflow({ name: 'PendingCancel.Child' })
class ChildWorkflow implements WorkflowDefinition<{ id: string }, string> {
  async run(input: { id: string }, ctx: WorkflowContext): Promise<string> {
    effects.enterRun('child', input.id);
    await ctx.waitForSignal('never');
    return input.id;
  }
}

@Workflow({ name: 'PendingCancel.Parent' })
class ParentWorkflow implements WorkflowDefinition<{ id: string }, string> {
  constructor(private readonly gate: Gate) {}
  async run(input: { id: string }, ctx: WorkflowContext): Promise<string> {
    await this.gate.pass(input.id);
    return ctx.executeChild(ChildWorkflow, { id: input.id });
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('cancel_pending_child');
  kagzi = await bootKagzi({ url: db.url, providers: [Gate, ChildWorkflow, ParentWorkflow] });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

it('a child started before the parent received its cancel is cancelled with the parent', async () => {
  const parent = await kagzi.client.start(ParentWorkflow, { id: 'p' });
  await waitFor('the gate step to start', () => effects.count('gate', 'p') === 1);
  // The worker's LISTEN session drops (a network blip): the cancel reaches it by its next heartbeat.
  await sql(db.url, `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'listen %' and pid <> pg_backend_pid()`);
  await kagzi.client.cancel(parent.runId, 'stop');
  gate.resolve(); // the parent's code goes on to start its child before it hears of the cancel
  await waitForStatus(parent, 'CANCELLED', 15_000);
  const children = await sql<{ id: string; status: string; cancel_requested_at: Date | null; created_at: Date; parent_requested: Date }>(
    db.url,
    `select c.id, c.status, c.cancel_requested_at, c.created_at, p.cancel_requested_at as parent_requested, p.cancel_cut_at as parent_cut
       from kagzi.workflow_runs c join kagzi.workflow_runs p on p.id = c.parent_run_id where p.id = $1`,
    [parent.runId],
  );
  expect(children).toHaveLength(1);
  // The parent ended CANCELLED; its onParentClose 'cancel' child must be cancelled (or at least asked to be).
  await new Promise((r) => setTimeout(r, 1_000));
  const [child] = await sql<{ status: string; cancel_requested_at: Date | null }>(db.url, 'select status, cancel_requested_at from kagzi.workflow_runs where id = $1', [children[0].id]);
  expect({ status: child.status, requested: child.cancel_requested_at !== null }).toEqual({ status: 'CANCELLED', requested: true });
});
