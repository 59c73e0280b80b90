/**
 * Starts around a caller's open TypeORM transaction:
 * - a caller transaction that holds an idempotency key uncommitted makes only the start of that same key
 *   wait; starts without a key, grouped or not, go through (keyed starts are never grouped);
 * - a caller transaction whose COMMIT PostgreSQL answers with ROLLBACK (a failed statement was caught in
 *   it) counts no run in `kagzi.runs.started`, as no run exists.
 */
import { Injectable } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import { DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { Step, Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, delay, KagziTestApp, sql } from './support/app';

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}
const reader = new TestReader();
const provider = new MeterProvider({ readers: [reader] });

@Injectable()
class Noop {
  @Step()
  async touch(x: string): Promise<string> {
    return x;
  }
}

@Workflow({ name: 'HazardStart', version: 1 })
class StartWorkflow implements WorkflowDefinition<string, string> {
  constructor(private readonly noop: Noop) {}
  async run(input: string): Promise<string> {
    return this.noop.touch(input);
  }
}

let db: TestDatabase;
let kagzi: KagziTestApp;
let app: DataSource;

beforeAll(async () => {
  metrics.setGlobalMeterProvider(provider);
  db = await createTestDatabase('caller_tx_hazards');
  kagzi = await bootKagzi({ url: db.url, providers: [Noop, StartWorkflow] });
  app = await new DataSource({ type: 'postgres', url: db.url }).initialize();
});

afterAll(async () => {
  await app?.destroy();
  await closeAllApps();
  await provider.shutdown();
  metrics.disable();
  await db?.drop();
});

async function started(): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  let total = 0;
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== 'kagzi.runs.started') continue;
      for (const p of metric.dataPoints as Array<DataPoint<number>>) if (p.attributes['kagzi.workflow'] === 'HazardStart') total += p.value;
    }
  }
  return total;
}

const runsOf = async (input: string): Promise<number> =>
  (await sql<{ n: number }>(db.url, "select count(*)::int as n from kagzi.workflow_runs where input->>'json' = $1", [input]))[0].n;

test('a start() with no idempotency key does not wait for a caller transaction that holds another start\'s key', async () => {
  const runner = app.createQueryRunner();
  await runner.connect();
  await runner.startTransaction();
  const all: Array<Promise<number>> = [];
  try {
    // An open caller transaction (a slow request) has started the run of key "order-7".
    await kagzi.client.start(StartWorkflow, 'held', { manager: runner.manager, idempotencyKey: 'order-7' });
    // Meanwhile three starts arrive at once: the first goes alone, the other two are grouped.
    const timing = (p: Promise<unknown>): Promise<number> => p.then(() => Date.now(), () => -1);
    const t0 = Date.now();
    const first = timing(kagzi.client.start(StartWorkflow, 'first'));
    const dup = timing(kagzi.client.start(StartWorkflow, 'dup', { idempotencyKey: 'order-7' })); // waits for the caller: expected
    const innocent = timing(kagzi.client.start(StartWorkflow, 'innocent'));
    await delay(300);
    const later = timing(kagzi.client.start(StartWorkflow, 'later'));
    all.push(first, dup, innocent, later);
    await delay(3_000);
    const done = await Promise.all([first, innocent, later, dup].map((p) => Promise.race([p.then((t) => `settled after ${t - t0} ms`), delay(0).then(() => 'still waiting after 3 s')])));
    expect({ first: done[0], innocent: done[1], later: done[2], dupWithHeldKey: done[3] }).toEqual({
      first: expect.stringMatching(/^settled/), innocent: expect.stringMatching(/^settled/), later: expect.stringMatching(/^settled/), dupWithHeldKey: 'still waiting after 3 s',
    });
  } finally {
    await runner.commitTransaction().catch(() => undefined);
    await runner.release();
    await Promise.all(all);
  }
}, 30_000);

test('a caller transaction whose COMMIT is answered with ROLLBACK (a failed statement was caught) counts no started run', async () => {
  const before = await started();
  let runId = '';
  await app.transaction(async (manager) => {
    runId = (await kagzi.client.start(StartWorkflow, 'ghost', { manager })).runId;
    // A failed statement, caught: PostgreSQL has aborted the transaction; TypeORM's COMMIT then rolls back without an error.
    await manager.query('select 1/0').catch(() => undefined);
  });
  expect(runId).not.toBe('');
  expect({ runs: await runsOf('ghost'), counted: (await started()) - before }).toEqual({ runs: 0, counted: 0 });
});
