/**
 * Export and replay (SPEC §5.6): a run's history as plain JSON, and the current code executed against
 * it without side effects (step bodies are counted: a replay runs none). The "deployed" code lives in
 * a second app that registers changed classes under the same workflow name and version, as a new
 * build would.
 */
import { Injectable } from '@nestjs/common';
import { ErrorKind, PermanentError, Step, StepError, UsageError, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { replayHistory, replayRun, RunHistory } from '@kagzi/nestjs/testing';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, rejectionOf, waitForStatus } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();

@Injectable()
class Shop {
  @Step()
  async reserve(sku: string): Promise<string> {
    effects.enter('reserve', sku);
    return `${sku}:reserved`;
  }

  @Step()
  async charge(amount: number): Promise<string> {
    effects.enter('charge', String(amount));
    return `charged ${amount}`;
  }

  @Step()
  async audit(what: string): Promise<string> {
    effects.enter('audit', what);
    return `audited ${what}`;
  }

  @Step()
  async decline(sku: string): Promise<never> {
    effects.enter('decline', sku);
    throw new PermanentError(`no stock of ${sku}`, { code: 'NO_STOCK' });
  }
}

type Order = { sku: string; amounts: number[] };

/** As first deployed: reserve, then one charge per amount, then a parallel pack and a race of two couriers. */
@Workflow({ name: 'ReplayOrder', version: 1 })
class OrderV1 implements WorkflowDefinition<Order, string[]> {
  constructor(protected readonly shop: Shop) {}
  async run(input: Order, ctx: WorkflowContext): Promise<string[]> {
    const out = [await this.shop.reserve(input.sku)];
    for (const amount of input.amounts) out.push(await this.shop.charge(amount));
    const packed = await ctx.parallel([() => this.shop.audit('box'), () => this.shop.audit('label')]);
    const courier = await ctx.race([() => this.shop.audit('fast'), () => this.shop.audit('slow')]);
    return [...out, ...packed, `courier ${courier.index}`];
  }
}

/** The charges in the other order: charge#1 is now called with the second amount. */
@Workflow({ name: 'ReplayOrder', version: 1 })
class OrderReordered extends OrderV1 {
  override async run(input: Order, ctx: WorkflowContext): Promise<string[]> {
    await this.shop.reserve(input.sku);
    for (const amount of [...input.amounts].reverse()) await this.shop.charge(amount);
    return super.run(input, ctx);
  }
}

/** An argument changed: reserve is called with another SKU. */
@Workflow({ name: 'ReplayOrder', version: 1 })
class OrderChangedArgument extends OrderV1 {
  override async run(input: Order, ctx: WorkflowContext): Promise<string[]> {
    return super.run({ ...input, sku: `${input.sku}-XL` }, ctx);
  }
}

/** Waits for a signal between two steps: a run in flight at the wait. */
@Workflow({ name: 'ReplayApproval', version: 1 })
class ApprovalV1 implements WorkflowDefinition<string, string> {
  constructor(protected readonly shop: Shop) {}
  async run(sku: string, ctx: WorkflowContext): Promise<string> {
    await this.shop.reserve(sku);
    const ok = await ctx.waitForSignal<boolean>('approve');
    return ok ? this.shop.charge(1) : 'rejected';
  }
}

/** A new step inserted before the wait: a worker would execute it when the run resumes. */
@Workflow({ name: 'ReplayApproval', version: 1 })
class ApprovalInserted extends ApprovalV1 {
  override async run(sku: string, ctx: WorkflowContext): Promise<string> {
    await this.shop.reserve(sku);
    await this.shop.audit(`before approval of ${sku}`);
    const ok = await ctx.waitForSignal<boolean>('approve');
    return ok ? this.shop.charge(1) : 'rejected';
  }
}

@Workflow({ name: 'ReplayDecline', version: 1 })
class DeclineV1 implements WorkflowDefinition<string, string> {
  constructor(private readonly shop: Shop) {}
  async run(sku: string): Promise<string> {
    await this.shop.reserve(sku);
    return this.shop.decline(sku);
  }
}

let db: TestDatabase;
let original: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('replay');
  original = await bootKagzi({ url: db.url, providers: [Shop, OrderV1, ApprovalV1, DeclineV1] });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

/** Exports a run and sends its history through JSON, as a file kept in CI would be. */
async function exported(runId: string): Promise<RunHistory> {
  return JSON.parse(JSON.stringify(await original.client.exportRun(runId))) as RunHistory;
}

/** Boots the "new build": an app registering `workflows` (client only: replay needs no worker). */
async function deploy(...workflows: Array<new (shop: Shop) => unknown>): Promise<KagziTestApp> {
  return bootKagzi({ url: db.url, providers: [Shop, ...workflows], worker: false });
}

describe('a completed run', () => {
  let history: RunHistory;
  let result: string[];

  beforeAll(async () => {
    const handle = await original.client.start(OrderV1, { sku: 'mug', amounts: [5, 7] });
    result = await handle.result({ timeout: '10s' });
    history = await exported(handle.runId);
  });

  test('exports as plain JSON: run, version, step keys, argument hashes, outputs, groups', () => {
    expect(history).toMatchObject({ format: 'kagzi.run-history.v1', workflowName: 'ReplayOrder', version: 1, status: 'COMPLETED', input: { json: { sku: 'mug', amounts: [5, 7] } } });
    expect(history.steps.map((s) => s.key)).toEqual(
      expect.arrayContaining(['Shop.reserve#1', 'Shop.charge#1', 'Shop.charge#2', '$parallel#1[0]/Shop.audit#1', '$parallel#1[1]/Shop.audit#1']),
    );
    expect(history.steps.every((s) => s.kind !== 'STEP' || typeof s.argsHash === 'string')).toBe(true);
    expect(history.steps.find((s) => s.kind === 'GROUP')).toMatchObject({ name: expect.stringContaining('race') });
  });

  test('replays green with the same code and returns the recorded result, executing no step body', async () => {
    const counts = (): number[] => [effects.count('reserve', 'mug'), effects.count('charge', '5'), effects.count('audit', 'box'), effects.count('audit', 'fast'), effects.count('audit', 'slow')];
    const before = counts();
    await expect(replayRun(OrderV1, history)).resolves.toEqual(result);
    expect(counts()).toEqual(before);
  });

  test('a changed argument fails with NON_DETERMINISM naming the step, its key, recorded vs now', async () => {
    await deploy(OrderChangedArgument);
    const error = (await rejectionOf(replayRun(OrderChangedArgument, history))) as StepError;
    expect(error).toBeInstanceOf(StepError);
    expect(error.kind).toBe(ErrorKind.NonDeterminism);
    expect(error.message).toContain('step "Shop.reserve" (key Shop.reserve#1)');
    expect(error.message).toMatch(/different arguments/);
  });

  test('reordered calls of one step fail at the first call whose arguments moved', async () => {
    await deploy(OrderReordered);
    const error = (await rejectionOf(replayRun(OrderReordered, history))) as StepError;
    expect(error.kind).toBe(ErrorKind.NonDeterminism);
    expect(error.message).toContain('key Shop.charge#1');
  });

  test('a step of a new name inserted between recorded ones is where a worker would continue: every call before it matched', async () => {
    @Workflow({ name: 'ReplayOrder', version: 1 })
    class OrderWithAudit extends OrderV1 {
      override async run(input: Order, ctx: WorkflowContext): Promise<string[]> {
        await this.shop.reserve(input.sku);
        await this.shop.audit('inserted'); // top-level Shop.audit#1: a key the run never recorded
        return super.run(input, ctx);
      }
    }
    await deploy(OrderWithAudit);
    await expect(replayHistory(OrderWithAudit, history)).resolves.toEqual({ result: 'continues', at: 'step "Shop.audit" (Shop.audit#1)' });
    await expect(replayRun(OrderWithAudit, history)).resolves.toBeUndefined();
    expect(effects.count('audit', 'inserted')).toBe(0);
  });
});

describe('runs in flight and failed runs', () => {
  test('a run waiting for a signal replays to its wait (resolves undefined); a step inserted before the wait is where it would continue', async () => {
    const handle = await original.client.start(ApprovalV1, 'lamp');
    await waitForStatus(handle, 'WAITING');
    const history = await exported(handle.runId);
    await expect(replayRun(ApprovalV1, history)).resolves.toBeUndefined();
    await deploy(ApprovalInserted);
    const audits = effects.count('audit', 'before approval of lamp');
    await expect(replayRun(ApprovalInserted, history)).resolves.toBeUndefined();
    expect(effects.count('audit', 'before approval of lamp')).toBe(audits); // not executed
    await original.client.signal(handle.runId, 'approve', true);
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('charged 1');
    await expect(replayRun(ApprovalV1, await exported(handle.runId))).resolves.toBe('charged 1');
  });

  test('a failed run replays to its recorded failure (the error, not NON_DETERMINISM), executing nothing', async () => {
    const handle = await original.client.start(DeclineV1, 'vase');
    await handle.result({ timeout: '10s' }).catch(() => undefined);
    const declines = effects.count('decline', 'vase');
    const error = (await rejectionOf(replayRun(DeclineV1, await exported(handle.runId)))) as StepError;
    expect(error).toMatchObject({ code: 'NO_STOCK', message: 'no stock of vase' });
    expect(error.kind).not.toBe(ErrorKind.NonDeterminism);
    expect(effects.count('decline', 'vase')).toBe(declines);
  });

  test('refuses what is not a history, and a workflow no app in the process registers', async () => {
    await expect(replayRun(OrderV1, { format: 'something else' } as unknown as RunHistory)).rejects.toThrow(UsageError);
    const handle = await original.client.start(OrderV1, { sku: 'cup', amounts: [] });
    await handle.result({ timeout: '10s' });
    const history = await exported(handle.runId);
    @Workflow({ name: 'ReplayOrder', version: 1 })
    class NeverBooted extends OrderV1 {}
    await expect(replayRun(NeverBooted, history)).rejects.toThrow(/no Kagzi app in this process registers NeverBooted as ReplayOrder v1/);
    await expect(replayRun(OrderV1, { ...history, version: 9 })).rejects.toThrow(UsageError);
  });
});
