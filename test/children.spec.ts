/**
 * Child workflows (SPEC §5.1): ctx.startChild / ctx.executeChild against real PostgreSQL. Child and
 * parent bodies count their executions, so "one child" is counted, not inferred.
 */
import { Injectable } from '@nestjs/common';
import {
  ChildWorkflowFailedError,
  ErrorKind,
  PermanentError,
  Step,
  Workflow,
  WorkflowCancelledError,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowFailedError,
} from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, CallCounter, closeAllApps, KagziTestApp, rejectionOf, sql, waitFor, waitForStatus } from './support/app';

const calls = new CallCounter();
const failures = new Map<string, { childRunId: string; kind: string; code?: string; message: string }>();

@Injectable()
class Warehouse {
  @Step({ name: 'Warehouse.pick' })
  async pick(parcel: string): Promise<string> {
    calls.bump('Warehouse.pick', parcel);
    return `picked-${parcel}`;
  }
}

@Workflow({ name: 'Children.Shipment' })
class ShipmentWorkflow implements WorkflowDefinition<{ parcel: string; fail?: boolean; waitFor?: string }, string> {
  constructor(private readonly warehouse: Warehouse) {}
  async run(input: { parcel: string; fail?: boolean; waitFor?: string }, ctx: WorkflowContext): Promise<string> {
    calls.bump('Shipment.run', input.parcel);
    if (input.waitFor) await ctx.waitForSignal(input.waitFor);
    if (input.fail) throw new PermanentError(`parcel ${input.parcel} is lost`, { kind: ErrorKind.NotFound, code: 'PARCEL_LOST' });
    return this.warehouse.pick(input.parcel);
  }
}

@Workflow({ name: 'Children.Order' })
class OrderWorkflow implements WorkflowDefinition<{ id: string; parcels: string[]; fail?: string; hold?: boolean }, unknown> {
  async run(input: { id: string; parcels: string[]; fail?: string; hold?: boolean }, ctx: WorkflowContext): Promise<unknown> {
    calls.bump('Order.run', input.id);
    try {
      return await ctx.parallel(
        input.parcels.map((parcel) => () => ctx.executeChild(ShipmentWorkflow, { parcel, fail: parcel === input.fail, waitFor: input.hold ? 'release' : undefined })),
      );
    } catch (err: unknown) {
      if (err instanceof ChildWorkflowFailedError) {
        failures.set(input.id, { childRunId: err.childRunId, kind: err.error.kind, code: err.error.code, message: err.message });
      }
      throw err;
    }
  }
}

@Workflow({ name: 'Children.FireAndForget' })
class FireAndForgetWorkflow implements WorkflowDefinition<{ id: string }, string> {
  async run(input: { id: string }, ctx: WorkflowContext): Promise<string> {
    const child = await ctx.startChild(ShipmentWorkflow, { parcel: `${input.id}-p` });
    await ctx.sleep('200ms'); // a replay after this must not start a second child
    return child.runId;
  }
}

@Workflow({ name: 'Children.LongKey' })
class LongKeyWorkflow implements WorkflowDefinition<{ length: number }, string> {
  async run(input: { length: number }, ctx: WorkflowContext): Promise<string> {
    return ctx.executeChild(ShipmentWorkflow, { parcel: 'long-key' }, { idempotencyKey: 'k'.repeat(input.length) });
  }
}

const PROVIDERS = [Warehouse, ShipmentWorkflow, OrderWorkflow, FireAndForgetWorkflow, LongKeyWorkflow];

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('children');
  kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

const childrenOf = (runId: string): Promise<Array<{ id: string; status: string }>> =>
  sql(db.url, 'select id, status from kagzi.workflow_runs where parent_run_id = $1 order by created_at', [runId]);

describe('child workflows', () => {
  it('executeChild runs a child per parcel in ctx.parallel and returns their outputs; getRun links both ways', async () => {
    const handle = await kagzi.client.start(OrderWorkflow, { id: 'o1', parcels: ['a', 'b', 'c'] });
    expect(await handle.result({ timeout: '15s' })).toEqual(['picked-a', 'picked-b', 'picked-c']);
    const children = await childrenOf(handle.runId);
    expect(children.map((c) => c.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    for (const p of ['a', 'b', 'c']) expect(calls.get('Shipment.run', p)).toBe(1);
    const parent = await kagzi.client.getRun(handle.runId);
    expect(parent.children.map((c) => c.runId).sort()).toEqual(children.map((c) => c.id).sort());
    const child = await kagzi.client.getRun(children[0].id);
    expect(child.parentRunId).toBe(handle.runId);
  });

  it('a child idempotency key over 512 characters fails the parent with a typed error naming the limit, and starts no child', async () => {
    const handle = await kagzi.client.start(LongKeyWorkflow, { length: 513 });
    const error = await rejectionOf(handle.result({ timeout: '10s' }));
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).error.message).toMatch(/child options\.idempotencyKey must be 1 to 512 characters; got 513/);
    expect(await childrenOf(handle.runId)).toEqual([]);
    const ok = await kagzi.client.start(LongKeyWorkflow, { length: 512 });
    await expect(ok.result({ timeout: '10s' })).resolves.toBe('picked-long-key');
  });

  it('20 children in ctx.parallel fan out and join', async () => {
    const parcels = Array.from({ length: 20 }, (_, i) => `fan-${i}`);
    const handle = await kagzi.client.start(OrderWorkflow, { id: 'fan', parcels });
    expect(await handle.result({ timeout: '30s' })).toEqual(parcels.map((p) => `picked-${p}`));
    expect((await childrenOf(handle.runId)).length).toBe(20);
  });

  it('a failed child rejects executeChild with ChildWorkflowFailedError carrying its kind, code and message', async () => {
    const handle = await kagzi.client.start(OrderWorkflow, { id: 'o2', parcels: ['x', 'lost'], fail: 'lost' });
    const err = await rejectionOf(handle.result({ timeout: '15s' }));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const seen = failures.get('o2')!;
    expect(seen).toMatchObject({ kind: ErrorKind.NotFound, code: 'PARCEL_LOST' });
    expect(seen.message).toMatch(/parcel lost is lost/);
    expect((err as WorkflowFailedError).error.code).toBe('KAGZI_CHILD_WORKFLOW_FAILED');
  });

  it('the parent waits WAITING (no slot held) and is woken by its child: concurrency 1 runs both to completion', async () => {
    const solo = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'solo', concurrency: 1 } });
    await kagzi.close(); // only the one-slot worker serves now
    try {
      const handle = await solo.client.start(OrderWorkflow, { id: 'solo', parcels: ['s1'] });
      expect(await handle.result({ timeout: '15s' })).toEqual(['picked-s1']);
    } finally {
      await solo.close();
      kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
    }
  });

  it('a replay of startChild never starts a second child', async () => {
    const handle = await kagzi.client.start(FireAndForgetWorkflow, { id: 'ff' });
    const childId = await handle.result({ timeout: '10s' });
    const children = await childrenOf(handle.runId);
    expect(children.map((c) => c.id)).toEqual([childId]);
  });

  it('cancelling the parent cancels its waiting children', async () => {
    const handle = await kagzi.client.start(OrderWorkflow, { id: 'c1', parcels: ['h1', 'h2'], hold: true });
    await waitForStatus(handle, 'WAITING');
    let children: Array<{ id: string; status: string }> = [];
    for (let i = 0; i < 100 && children.filter((c) => c.status === 'WAITING').length < 2; i++) {
      children = await childrenOf(handle.runId);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await handle.cancel('order withdrawn');
    expect(await rejectionOf(handle.result({ timeout: '10s' }))).toBeInstanceOf(WorkflowCancelledError);
    await waitFor('children cancelled', async () => (await childrenOf(handle.runId)).every((c) => c.status === 'CANCELLED') || undefined);
    expect((await childrenOf(handle.runId)).map((c) => c.status)).toEqual(['CANCELLED', 'CANCELLED']);
  });
});
