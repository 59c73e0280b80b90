/**
 * OpenTelemetry metrics of runs (SPEC §5.3) with the real SDK (a MeterProvider registered globally and
 * a pull reader collected by the test; no mocks): counters, histograms and gauges after a known mix of
 * completed, failed and retried runs, compared with the step executions the fixtures counted; the
 * backlog gauge with a version no worker serves; a lost lease; runs in flight.
 */
import { metrics } from '@opentelemetry/api';
import { DataPoint, Histogram, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, deferred, KagziTestApp, waitFor } from './support/app';
import {
  holds, METERED_PROVIDERS, MeteredChain, MeteredInbox, MeteredGateV1, MeteredGateV2, MeteredHold, MeteredLease, MeteredOrder, MeteredPayment, MeteredRefusal, metricEffects, metricsDb,
} from './fixtures/metrics-workflows';

/** A pull reader: the test collects when it wants to look. */
class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

interface Point {
  attributes: Record<string, unknown>;
  value: number | Histogram;
}

const reader = new TestReader();
const provider = new MeterProvider({ readers: [reader] });
let db: TestDatabase;
let kagzi: KagziTestApp;

beforeAll(async () => {
  // As an app does: the SDK first, then the Nest app.
  metrics.setGlobalMeterProvider(provider);
  db = await createTestDatabase('metrics');
  metricsDb.url = db.url;
  kagzi = await bootKagzi({ url: db.url, providers: METERED_PROVIDERS, worker: { name: 'metered', workflows: ['MeteredOrder', 'MeteredPayment', 'MeteredRefusal', 'MeteredHold', 'MeteredLease', 'MeteredInbox', 'MeteredChain'] } });
});

afterAll(async () => {
  await closeAllApps();
  await provider.shutdown();
  metrics.disable();
  await db?.drop();
});

/** Every data point of `name` in one collection. */
async function collect(name: string): Promise<Point[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const points: Point[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const p of metric.dataPoints as Array<DataPoint<number | Histogram>>) points.push({ attributes: { ...p.attributes }, value: p.value });
    }
  }
  return points;
}

const matches = (p: Point, where: Record<string, unknown>): boolean => Object.entries(where).every(([k, v]) => p.attributes[k] === v);
/** The sum of a counter's (or gauge's) points whose attributes include `where`. */
const sum = (points: Point[], where: Record<string, unknown> = {}): number =>
  points.filter((p) => matches(p, where)).reduce((total, p) => total + (p.value as number), 0);
/** The number of recorded values in a histogram's points whose attributes include `where`. */
const count = (points: Point[], where: Record<string, unknown> = {}): number =>
  points.filter((p) => matches(p, where)).reduce((total, p) => total + (p.value as Histogram).count, 0);

describe('after a known mix of completed, retried and failed runs', () => {
  beforeAll(async () => {
    const orders = await Promise.all(['o1', 'o2', 'o3'].map((id) => kagzi.client.start(MeteredOrder, id)));
    const payments = await Promise.all(['p1', 'p2'].map((id) => kagzi.client.start(MeteredPayment, id)));
    const refusal = await kagzi.client.start(MeteredRefusal, 'r1');
    await Promise.all([...orders, ...payments].map((h) => h.result({ timeout: '20s' })));
    await expect(refusal.result({ timeout: '20s' })).rejects.toThrow('card declined');
  });

  test('runs started and finished are counted per workflow, version and status', async () => {
    const started = await collect('kagzi.runs.started');
    expect(sum(started, { 'kagzi.workflow': 'MeteredOrder', 'kagzi.version': 1 })).toBe(3);
    expect(sum(started, { 'kagzi.workflow': 'MeteredPayment' })).toBe(2);
    expect(sum(started, { 'kagzi.workflow': 'MeteredRefusal' })).toBe(1);
    // A run's end is counted once its worker has the finish statement's reply, which may come after result() heard the run's notification.
    const finished = await waitFor('the six run ends counted', async () => {
      const points = await collect('kagzi.runs.finished');
      return sum(points, { 'kagzi.workflow': 'MeteredOrder' }) + sum(points, { 'kagzi.workflow': 'MeteredPayment' }) + sum(points, { 'kagzi.workflow': 'MeteredRefusal' }) >= 6 ? points : undefined;
    });
    expect(sum(finished, { 'kagzi.workflow': 'MeteredOrder', 'kagzi.status': 'COMPLETED' })).toBe(3);
    expect(sum(finished, { 'kagzi.workflow': 'MeteredPayment', 'kagzi.status': 'COMPLETED' })).toBe(2);
    expect(sum(finished, { 'kagzi.workflow': 'MeteredRefusal', 'kagzi.status': 'FAILED' })).toBe(1);
    expect(sum(finished, { 'kagzi.workflow': 'MeteredRefusal', 'kagzi.status': 'COMPLETED' })).toBe(0);
    // Never a run id among the attributes.
    for (const p of [...started, ...finished]) expect(Object.keys(p.attributes).sort()).toEqual(expect.not.arrayContaining(['kagzi.run_id']));
  });

  test('step attempts match the executions counted in the step bodies, by outcome and error kind', async () => {
    const attempts = await collect('kagzi.steps.attempts');
    const executions = (step: string, ids: string[]): number => ids.reduce((n, id) => n + metricEffects.count(step, id), 0);
    expect(executions('flaky', ['p1', 'p2'])).toBe(6);
    expect(sum(attempts, { 'kagzi.step': 'MeteredSteps.flaky' })).toBe(executions('flaky', ['p1', 'p2']));
    expect(sum(attempts, { 'kagzi.step': 'MeteredSteps.flaky', 'kagzi.outcome': 'retried', 'kagzi.error.kind': 'SERVICE_UNAVAILABLE' })).toBe(4);
    expect(sum(attempts, { 'kagzi.step': 'MeteredSteps.flaky', 'kagzi.outcome': 'completed' })).toBe(2);
    expect(sum(attempts, { 'kagzi.step': 'MeteredSteps.pack', 'kagzi.outcome': 'completed' })).toBe(executions('pack', ['o1', 'o2', 'o3']));
    expect(sum(attempts, { 'kagzi.step': 'MeteredSteps.refuse', 'kagzi.outcome': 'failed', 'kagzi.error.kind': 'BUSINESS_LOGIC_ERROR' })).toBe(1);
    const durations = await collect('kagzi.step.duration');
    expect(count(durations, { 'kagzi.step': 'MeteredSteps.flaky' })).toBe(6);
    expect(count(durations, { 'kagzi.workflow': 'MeteredOrder' })).toBe(6);
  });

  test('run durations are recorded once per ended run; claim lag once per claim', async () => {
    const durations = await collect('kagzi.run.duration');
    expect(count(durations, { 'kagzi.workflow': 'MeteredOrder' })).toBe(3);
    expect(count(durations, { 'kagzi.workflow': 'MeteredPayment' })).toBe(2);
    expect(count(durations, { 'kagzi.workflow': 'MeteredRefusal' })).toBe(1);
    // Each payment waited 2 back-offs of 20 ms, so its run took at least 40 ms.
    const payment = durations.find((p) => matches(p, { 'kagzi.workflow': 'MeteredPayment' }))!.value as Histogram;
    expect(payment.min).toBeGreaterThanOrEqual(0.04);
    const lag = await collect('kagzi.claim.lag');
    expect(count(lag, { 'kagzi.workflow': 'MeteredOrder' })).toBeGreaterThanOrEqual(3);
    for (const p of lag) expect((p.value as Histogram).min).toBeGreaterThanOrEqual(0);
  });
});

test('the backlog gauge counts the due runs of a workflow no worker serves, and 0 for versions with none due', async () => {
  await Promise.all(['g1', 'g2', 'g3'].map((id) => kagzi.client.start(MeteredGateV2, id, { version: 2 })));
  const backlog = await waitFor('a backlog of 3 for MeteredGate v2', async () => {
    const points = await collect('kagzi.runs.backlog');
    return sum(points, { 'kagzi.workflow': 'MeteredGate', 'kagzi.version': 2 }) === 3 ? points : undefined;
  });
  // A version with nothing due reads 0 rather than vanishing.
  expect(backlog.find((p) => matches(p, { 'kagzi.workflow': 'MeteredGate', 'kagzi.version': 1 }))?.value).toBe(0);
  expect(backlog.find((p) => matches(p, { 'kagzi.workflow': 'MeteredOrder', 'kagzi.version': 1 }))?.value).toBe(0);
  expect(Object.keys(backlog[0].attributes).sort()).toEqual(['kagzi.version', 'kagzi.workflow']);
});

test('the active runs gauge shows runs in flight in this worker', async () => {
  holds.set('h1', deferred());
  holds.set('h2', deferred());
  const handles = await Promise.all(['h1', 'h2'].map((id) => kagzi.client.start(MeteredHold, id)));
  await waitFor('both holds entered', () => metricEffects.count('hold', 'h1') === 1 && metricEffects.count('hold', 'h2') === 1);
  expect(sum(await collect('kagzi.worker.active_runs'))).toBe(2);
  holds.get('h1')!.resolve();
  holds.get('h2')!.resolve();
  await Promise.all(handles.map((h) => h.result({ timeout: '10s' })));
  await waitFor('no run in flight', async () => sum(await collect('kagzi.worker.active_runs')) === 0);
});

test('a lost lease is counted once, and the run completes when claimed again', async () => {
  const before = sum(await collect('kagzi.leases.lost'), { 'kagzi.workflow': 'MeteredLease' });
  const handle = await kagzi.client.start(MeteredLease, 'l1');
  await expect(handle.result({ timeout: '15s' })).resolves.toBe('l1');
  expect(metricEffects.count('stolen', 'l1')).toBe(2);
  expect(sum(await collect('kagzi.leases.lost'), { 'kagzi.workflow': 'MeteredLease' }) - before).toBe(1);
  // Its first segment lost the lease, so only the second one ended the run. The end is counted once the
  // worker has the finish statement's reply, which may come after result() heard the run's notification.
  const finished = await waitFor('the run end counted', async () => {
    const n = sum(await collect('kagzi.runs.finished'), { 'kagzi.workflow': 'MeteredLease' });
    return n > 0 ? n : undefined;
  });
  expect(finished).toBe(1);
});

test('runs started by signalWithStart, continue-as-new and children are counted where they are created, once each', async () => {
  const started = async (workflow: string): Promise<number> => sum(await collect('kagzi.runs.started'), { 'kagzi.workflow': workflow });
  const [inbox, chain, order] = [await started('MeteredInbox'), await started('MeteredChain'), await started('MeteredOrder')];
  const first = await kagzi.client.signalWithStart(MeteredInbox, 'i1', { name: 'note', payload: 'a' }, { idempotencyKey: 'inbox-i1' });
  const again = await kagzi.client.signalWithStart(MeteredInbox, 'i1', { name: 'note', payload: 'b' }, { idempotencyKey: 'inbox-i1' });
  expect(again.runId).toBe(first.runId);
  await expect(first.result({ timeout: '10s' })).resolves.toBe('i1:a+b');
  expect((await started('MeteredInbox')) - inbox).toBe(1);

  const head = await kagzi.client.start(MeteredChain, { id: 'c1', left: 2 });
  await expect(head.result({ timeout: '15s' })).resolves.toBe('c1-child:shipped');
  // The head, then two runs continued as new; their child.
  expect((await started('MeteredChain')) - chain).toBe(3);
  expect((await started('MeteredOrder')) - order).toBe(1);
  const finished = await waitFor("the chain's three ends counted", async () => {
    const points = await collect('kagzi.runs.finished');
    return sum(points, { 'kagzi.workflow': 'MeteredChain' }) >= 3 ? points : undefined;
  });
  expect(sum(finished, { 'kagzi.workflow': 'MeteredChain', 'kagzi.status': 'COMPLETED' })).toBe(3);
});

test('runs started in a caller transaction are counted once it commits: not when it (or the savepoint around the start) rolls back', async () => {
  const started = async (): Promise<number> => sum(await collect('kagzi.runs.started'), { 'kagzi.workflow': 'MeteredGate', 'kagzi.version': 1 });
  const dataSource = new DataSource({ type: 'postgres', url: db.url });
  await dataSource.initialize();
  try {
    const before = await started();
    const rolledBack = dataSource.transaction(async (manager) => {
      await kagzi.client.start(MeteredGateV1, 'rb-1', { version: 1, manager });
      await kagzi.client.startMany([{ workflow: MeteredGateV1, input: 'rb-2', options: { version: 1 } }], { manager });
      throw new Error('the order was refused');
    });
    await expect(rolledBack).rejects.toThrow('the order was refused');
    expect(await started()).toBe(before);

    await dataSource.transaction(async (manager) => {
      await kagzi.client.start(MeteredGateV1, 'c-1', { version: 1, manager });
      await kagzi.client.startMany(['c-2', 'c-3'].map((input) => ({ workflow: MeteredGateV1, input, options: { version: 1 } })), { manager });
      // Inside a savepoint that is rolled back: never existed.
      const runner = manager.queryRunner!;
      await runner.startTransaction();
      await kagzi.client.start(MeteredGateV1, 'sp-1', { version: 1, manager });
      await runner.rollbackTransaction();
      // Inside a savepoint that is released: part of the transaction.
      await runner.startTransaction();
      await kagzi.client.start(MeteredGateV1, 'sp-2', { version: 1, manager });
      await runner.commitTransaction();
      expect(await started()).toBe(before); // not before the commit
    });
    expect(await started()).toBe(before + 4);
    const [{ n }] = await dataSource.query(`select count(*)::int as n from kagzi.workflow_runs where workflow_name = 'MeteredGate' and workflow_version = 1`);
    expect(n).toBe(4);

    // A manager outside any transaction: its insert commits on its own and is counted at once.
    await kagzi.client.start(MeteredGateV1, 'auto-1', { version: 1, manager: dataSource.manager });
    expect(await started()).toBe(before + 5);
  } finally {
    await dataSource.destroy();
  }
});
