/**
 * How statements reach PostgreSQL: named prepared statements by default, unnamed ones with
 * `preparedStatements: false` (for PgBouncer in transaction mode, where a statement prepared on one
 * server connection is missing on the next). Every query the pg driver sends is recorded, and every
 * pooled connection is asked what it has prepared.
 */
import { Injectable } from '@nestjs/common';
import { RetryPolicy, Step, TransientError, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { QueryConfig } from 'pg';
import { recordQueries } from './support/sent-queries';
import { KagziDatabase } from '../libs/kagzi/src/persistence/kagzi-database';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, KagziTestApp } from './support/app';

@Injectable()
class Counter {
  calls = 0;
}

/** A step, a step that fails once and is retried, a durable sleep: the statements of a whole run. */
@Workflow({ name: 'StatementsWorkflow' })
class StatementsWorkflow implements WorkflowDefinition<{ n: number }, number> {
  constructor(private readonly counter: Counter) {}

  async run(input: { n: number }, ctx: WorkflowContext): Promise<number> {
    const doubled = await this.double(input.n);
    await ctx.sleep('20ms');
    return this.addOneAfterAFailure(doubled);
  }

  @Step()
  async double(n: number): Promise<number> {
    return n * 2;
  }

  @Step({ retry: RetryPolicy.fixed({ maxAttempts: 2, interval: '20ms' }) })
  async addOneAfterAFailure(n: number): Promise<number> {
    if (++this.counter.calls === 1) throw new TransientError('first attempt fails');
    return n + 1;
  }
}

const PROVIDERS = [Counter, StatementsWorkflow];

/** Names of the prepared statements each idle pooled connection holds (pg_prepared_statements is per connection). */
async function preparedOnPool(kagzi: KagziTestApp): Promise<string[]> {
  const pool = kagzi.app.get(KagziDatabase, { strict: false }).pool;
  const clients = await Promise.all(Array.from({ length: pool.idleCount }, () => pool.connect()));
  try {
    const names: string[] = [];
    for (const client of clients) {
      const { rows } = await client.query<{ name: string }>('select name from pg_prepared_statements');
      names.push(...rows.map((r) => r.name));
    }
    return names;
  } finally {
    for (const client of clients) client.release();
  }
}

describe('statements sent to PostgreSQL', () => {
  let db: TestDatabase;
  let sent: QueryConfig[];

  beforeAll(async () => {
    db = await createTestDatabase('statements');
  });

  beforeEach(() => {
    sent = recordQueries((_q, _client, asText) => !asText);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await closeAllApps();
  });

  afterAll(async () => {
    await db.drop();
  });

  /** A run with a step, a retried step and a sleep, a version change (a transaction), and the reads of the client. */
  async function exercise(kagzi: KagziTestApp): Promise<void> {
    const handle = await kagzi.client.start(StatementsWorkflow, { n: 20 });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe(41);
    await kagzi.client.setDefaultVersion('StatementsWorkflow', 1);
    expect((await kagzi.client.getRun(handle.runId)).steps.length).toBeGreaterThanOrEqual(3);
    expect((await kagzi.client.listRuns()).items.length).toBe(1);
  }

  it('by default, sends each statement as a named prepared statement', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, schema: 'statements_named' });
    await exercise(kagzi);

    const named = new Set(sent.filter((q) => q.name !== undefined).map((q) => q.name));
    expect(named.size).toBeGreaterThanOrEqual(10);
    expect(await preparedOnPool(kagzi)).not.toEqual([]);
  });

  it('with preparedStatements: false, runs a workflow end to end without preparing a single named statement', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, schema: 'statements_unnamed', preparedStatements: false });
    await exercise(kagzi);

    expect(sent.length).toBeGreaterThanOrEqual(10);
    expect(sent.filter((q) => q.name !== undefined)).toEqual([]);
    expect(await preparedOnPool(kagzi)).toEqual([]);
  });
});
