/**
 * ctx.continueAsNew (SPEC §5.1): a run ends COMPLETED with `continuedAs` and the same workflow and
 * version starts afresh with the new input; `result()` of the first run follows the chain to the end.
 */
import { Injectable } from '@nestjs/common';
import { Step, Workflow, WorkflowCancelledError, WorkflowContext, WorkflowDefinition, WorkflowFailedError } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp, rejectionOf, sql, waitForStatus } from './support/app';
import { SideEffects } from './support/side-effects';

const effects = new SideEffects();

@Injectable()
class Counter {
  @Step({ name: 'Counter.add' })
  async add(chain: string, n: number): Promise<number> {
    effects.enter('add', `${chain}:${n}`);
    return n + 1;
  }
}

interface LoopInput {
  chain: string;
  n: number;
  until: number;
  failAt?: number;
  big?: boolean;
}

/** Counts to `until`, one run per number: each run does one step and continues as new. */
@Workflow({ name: 'Continue.Loop' })
class LoopWorkflow implements WorkflowDefinition<LoopInput, { total: number; runId: string }> {
  constructor(private readonly counter: Counter) {}
  async run(input: LoopInput, ctx: WorkflowContext): Promise<{ total: number; runId: string }> {
    if (input.failAt === input.n) throw new Error(`failed at ${input.n}`);
    const next = await this.counter.add(input.chain, input.n);
    if (input.big) await ctx.continueAsNew({ ...input, pad: 'x'.repeat(2_000_000) });
    if (next < input.until) await ctx.continueAsNew({ ...input, n: next });
    return { total: next, runId: ctx.runId };
  }
}

/** Continues once, then sleeps, so a cancel meets the second run of the chain. */
@Workflow({ name: 'Continue.Sleeper' })
class SleeperWorkflow implements WorkflowDefinition<{ round: number }, string> {
  async run(input: { round: number }, ctx: WorkflowContext): Promise<string> {
    if (input.round === 1) await ctx.continueAsNew({ round: 2 });
    await ctx.sleep('1h');
    return 'slept';
  }
}

@Workflow({ name: 'Continue.Parent' })
class ParentWorkflow implements WorkflowDefinition<{ chain: string }, unknown> {
  async run(input: { chain: string }, ctx: WorkflowContext): Promise<unknown> {
    return ctx.executeChild(LoopWorkflow, { chain: input.chain, n: 0, until: 3 });
  }
}

const PROVIDERS = [Counter, LoopWorkflow, SleeperWorkflow, ParentWorkflow];

let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('continue');
  kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS });
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

beforeEach(() => effects.reset());

const chainRows = (name: string): Promise<Array<{ id: string; status: string; continued_as: string | null; continued_from: string | null }>> =>
  sql(db.url, `select id, status, continued_as, continued_from from kagzi.workflow_runs where workflow_name = 'Continue.Loop' and input->'json'->>'chain' = $1 order by created_at, id`, [name]);

describe('ctx.continueAsNew', () => {
  it('a chain of 50 runs: result() of the first follows it to the last; each run did its step once', async () => {
    const first = await kagzi.client.start(LoopWorkflow, { chain: 'fifty', n: 0, until: 50 });
    const result = await first.result({ timeout: '60s' });
    expect(result.total).toBe(50);
    expect(result.runId).not.toBe(first.runId);
    for (let n = 0; n < 50; n++) expect(effects.count('add', `fifty:${n}`)).toBe(1);
    const rows = await chainRows('fifty');
    expect(rows).toHaveLength(50);
    expect(rows.filter((r) => r.status === 'COMPLETED')).toHaveLength(50);
    // Linked both ways, one chain from the first run to the last.
    const byId = new Map(rows.map((r) => [r.id, r]));
    let at = byId.get(first.runId);
    let hops = 0;
    while (at?.continued_as) {
      const next = byId.get(at.continued_as);
      expect(next?.continued_from).toBe(at.id);
      at = next;
      hops++;
    }
    expect(hops).toBe(49);
    expect(at?.id).toBe(result.runId);
    const details = await kagzi.client.getRun(first.runId);
    expect(details.status).toBe('COMPLETED');
    expect(details.continuedAs).toBe(byId.get(first.runId)?.continued_as);
    expect(details.output).toBeUndefined();
    expect((await kagzi.client.getRun(result.runId)).continuedFrom).toBeDefined();
  });

  it('a chain that fails: result() of the first rejects with the last run’s failure', async () => {
    const first = await kagzi.client.start(LoopWorkflow, { chain: 'fails', n: 0, until: 10, failAt: 3 });
    const error = await rejectionOf(first.result({ timeout: '20s' }));
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).message).toContain('failed at 3');
    expect((error as WorkflowFailedError).runId).not.toBe(first.runId);
  });

  it('an input over maxPayloadBytes is refused with PayloadTooLargeError and nothing continues', async () => {
    const first = await kagzi.client.start(LoopWorkflow, { chain: 'big', n: 0, until: 2, big: true });
    const error = await rejectionOf(first.result({ timeout: '10s' }));
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).message).toContain('The input of ctx.continueAsNew() is 2000060 bytes serialized, above maxPayloadBytes');
    expect(await chainRows('big')).toHaveLength(1);
  });

  it('cancelling the first run of a chain cancels its live run', async () => {
    const first = await kagzi.client.start(SleeperWorkflow, { round: 1 });
    const [next] = await waitForNext(first.runId);
    await waitForStatus(kagzi.client.getHandle(next), 'SLEEPING');
    await kagzi.client.cancel(first.runId, 'stop the loop');
    expect(await rejectionOf(first.result({ timeout: '10s' }))).toBeInstanceOf(WorkflowCancelledError);
    expect(await kagzi.client.getHandle(next).status()).toBe('CANCELLED');
  });

  it('a child that continues as new: executeChild resolves with the end of its chain', async () => {
    const parent = await kagzi.client.start(ParentWorkflow, { chain: 'child' });
    expect(await parent.result({ timeout: '20s' })).toMatchObject({ total: 3 });
    const rows = await chainRows('child');
    expect(rows).toHaveLength(3);
  });
});

async function waitForNext(runId: string): Promise<[string]> {
  for (let i = 0; i < 400; i++) {
    const [row] = await sql<{ continued_as: string | null }>(db.url, 'select continued_as from kagzi.workflow_runs where id = $1', [runId]);
    if (row?.continued_as) return [row.continued_as];
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`run ${runId} did not continue as new`);
}
