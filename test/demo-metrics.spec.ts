/**
 * The demo's HTTP app (apps/demo, `npm start`) serves Kagzi's metrics in Prometheus text on GET /metrics
 * and its health on GET /health (SPEC §5.3). Boots the real AppModule the way main.ts does (the
 * OpenTelemetry MeterProvider with the Prometheus exporter registered first, telemetry.ts; TypeOrmModule
 * with the app's tables, and Kagzi on that DataSource through forRootAsync), on a port of its own and a
 * fresh database, sends an order over HTTP, and reads what a Prometheus server would scrape. Then the
 * order API's transactions (SPEC §5.7): the order row and its run commit together, and stock is
 * reserved by a transactional step, counted in the app's own tables.
 */
// First, as in main.ts: registers the global MeterProvider before Nest and Kagzi load.
import { meterProvider, prometheusExporter } from '../apps/demo/src/telemetry';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { metrics } from '@opentelemetry/api';
import { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { AppModule } from '../apps/demo/src/app.module';
import { PAYMENT_CONFIRMED } from '../apps/demo/src/orders/order-v3.workflow';
import { createTestDatabase, TestDatabase } from './support/database';
import { waitFor } from './support/app';

const ENV = ['DEMO_PAYMENT_FAILURE_RATE'] as const;
const savedEnv = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));

let db: TestDatabase;
let app: INestApplication | undefined;
let baseUrl: string;

beforeAll(async () => {
  db = await createTestDatabase('demo_metrics');
  // No simulated payment outages, so every count below is exact.
  process.env.DEMO_PAYMENT_FAILURE_RATE = '0';
  app = await NestFactory.create(AppModule.forRoot({ databaseUrl: db.url, metrics: prometheusExporter }), { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
  await meterProvider.shutdown();
  metrics.disable(); // the global provider can be set once per process: leave none behind
  for (const name of ENV) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (one sample a line; `#` lines are comments). */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1], labels, value: match[3] === '+Inf' ? Infinity : Number(match[3]) });
  }
  return samples;
}

interface Scrape {
  text: string;
  contentType: string | null;
  samples: Sample[];
  /** Samples of `name` whose labels include `labels`. */
  find(name: string, labels?: Record<string, string>): Sample[];
  /** The value of the one sample of `name` with `labels`; undefined if there is none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

async function scrape(): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  const samples = parsePrometheus(text);
  const find = (name: string, labels: Record<string, string> = {}): Sample[] =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    text,
    contentType: res.headers.get('content-type'),
    samples,
    find,
    value: (name, labels) => {
      const found = find(name, labels);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
  };
}

async function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const ORDER = { workflow: 'order-fulfilment', v3: { kagzi_workflow: 'order-fulfilment', kagzi_version: '3' } } as const;
const SHIPMENT = { kagzi_workflow: 'shipment', kagzi_version: '1' } as const;

test('GET /health answers 200 with the kagzi indicator up', async () => {
  const res = await fetch(`${baseUrl}/health`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { status: string; info: Record<string, { status: string; state: string }> };
  expect(body.status).toBe('ok');
  expect(body.info.kagzi).toMatchObject({ status: 'up', state: 'RUNNING' });
});

test('GET /metrics serves Prometheus text with the runs, steps, durations and gauges of an order sent over HTTP', async () => {
  // An order of 2 units: one parcel, so one child shipment run.
  const created = await post('/orders', { customerId: 'cus_metrics', items: [{ sku: 'MUG-01', qty: 2, price: 12.5 }] });
  expect(created.status).toBe(202);
  const runId = String(created.body.runId);
  // v3 (the default version) waits for the payment before charging.
  expect((await post(`/orders/${runId}/signals/${PAYMENT_CONFIRMED}`, { method: 'card' })).status).toBe(202);

  const order = await waitFor(`order ${runId} to complete`, async () => {
    const body = (await (await fetch(`${baseUrl}/orders/${runId}`)).json()) as { status: string };
    if (body.status === 'FAILED' || body.status === 'CANCELLED') throw new Error(`order ${runId} ended ${JSON.stringify(body)}`);
    return body.status === 'COMPLETED' ? body : undefined;
  });
  expect(order.status).toBe('COMPLETED');

  // The run's end is counted just after the row is written, and the worker frees its slot after that.
  const metricsText = await waitFor('the finished run and an idle worker in /metrics', async () => {
    const s = await scrape();
    return s.value('kagzi_runs_finished_total', { ...ORDER.v3, kagzi_status: 'COMPLETED' }) === 1 && s.value('kagzi_worker_active_runs') === 0 ? s : undefined;
  });
  const m = metricsText;
  expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);

  // Counters: the OTel name with dots as underscores and `_total`; attributes become labels the same way.
  expect(m.text).toContain('# TYPE kagzi_runs_started_total counter');
  expect(m.value('kagzi_runs_started_total', ORDER.v3)).toBe(1);
  expect(m.value('kagzi_runs_started_total', SHIPMENT)).toBe(1);
  expect(m.value('kagzi_runs_finished_total', { ...SHIPMENT, kagzi_status: 'COMPLETED' })).toBe(1);
  expect(m.find('kagzi_runs_finished_total').filter((s) => s.labels.kagzi_status !== 'COMPLETED')).toEqual([]);
  // Every scraped series carries the instrumentation scope.
  expect(m.find('kagzi_runs_started_total', ORDER.v3)[0].labels.otel_scope_name).toBe('kagzi');

  expect(m.text).toContain('# TYPE kagzi_steps_attempts_total counter');
  const orderAttempts = m.find('kagzi_steps_attempts_total', ORDER.v3);
  const attemptsByStep = Object.fromEntries(orderAttempts.map((s) => [s.labels.kagzi_step, s.value]));
  expect(attemptsByStep).toEqual({
    'InventoryService.reserve': 1,
    'NotificationsService.sendOrderReceived': 1,
    'Fraud.screen': 1,
    'PaymentsService.charge': 1,
    'NotificationsService.sendConfirmation': 1,
  });
  expect(orderAttempts.every((s) => s.labels.kagzi_outcome === 'completed')).toBe(true);
  expect(m.value('kagzi_steps_attempts_total', { ...SHIPMENT, kagzi_step: 'ShippingService.createShipment', kagzi_outcome: 'completed' })).toBe(1);
  // No lease was lost: the counter has no sample, or only zeros.
  expect(m.find('kagzi_leases_lost_total').filter((s) => s.value !== 0)).toEqual([]);

  // Histograms in seconds (this exporter version adds no unit suffix to the name; the unit is on a # UNIT line).
  expect(m.text).toContain('# TYPE kagzi_run_duration histogram');
  expect(m.text).toContain('# UNIT kagzi_run_duration s');
  expect(m.value('kagzi_run_duration_count', ORDER.v3)).toBe(1);
  expect(m.value('kagzi_run_duration_bucket', { ...ORDER.v3, le: '+Inf' })).toBe(1);
  // From the first claim to the end: at least the 300 ms warehouse sleep, well under a minute.
  const runSeconds = m.value('kagzi_run_duration_sum', ORDER.v3) ?? NaN;
  expect(runSeconds).toBeGreaterThanOrEqual(0.3);
  expect(runSeconds).toBeLessThan(60);
  const buckets = m.find('kagzi_run_duration_bucket', ORDER.v3);
  expect(buckets.length).toBeGreaterThan(2);
  expect(buckets.map((b) => b.value)).toEqual([...buckets.map((b) => b.value)].sort((a, b) => a - b)); // cumulative
  expect(m.value('kagzi_step_duration_count', { ...ORDER.v3, kagzi_step: 'PaymentsService.charge', kagzi_outcome: 'completed' })).toBe(1);
  expect(m.value('kagzi_step_duration_sum', { ...ORDER.v3, kagzi_step: 'PaymentsService.charge', kagzi_outcome: 'completed' })).toBeLessThan(10);
  expect(m.value('kagzi_claim_lag_count', ORDER.v3)).toBeGreaterThanOrEqual(1);

  // Observable gauges, read at scrape time: nothing due (0 for every known version), no run in flight.
  expect(m.text).toContain('# TYPE kagzi_runs_backlog gauge');
  expect(m.value('kagzi_runs_backlog', ORDER.v3)).toBe(0);
  expect(m.value('kagzi_runs_backlog', SHIPMENT)).toBe(0);
  expect(m.find('kagzi_runs_backlog', { kagzi_workflow: ORDER.workflow }).map((s) => s.labels.kagzi_version).sort()).toEqual(['1', '2', '3']);
  expect(m.text).toContain('# TYPE kagzi_worker_active_runs gauge');
  expect(m.value('kagzi_worker_active_runs')).toBe(0);
});

/** One statement on the test database (a client of its own: the app's pool is what is under test). */
async function query<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

async function postOrder(body: unknown, idempotencyKey?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
  const res = await fetch(`${baseUrl}/orders`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const counts = async (): Promise<{ orders: number; runs: number }> => {
  const [row] = await query<{ orders: number; runs: number }>(
    `select (select count(*)::int from demo.orders) as orders,
            (select count(*)::int from kagzi.workflow_runs where workflow_name = 'order-fulfilment') as runs`,
  );
  return row;
};

const available = async (sku: string): Promise<number> => (await query<{ available: number }>('select available from demo.stock where sku = $1', [sku]))[0].available;

test('POST /orders commits the order row and its run together; a repeated Idempotency-Key returns both, even when the requests race', async () => {
  const before = await counts();
  const basket = { customerId: 'cus_tx', items: [{ sku: 'MUG-01', qty: 1, price: 12.5 }] };
  const first = await postOrder(basket, 'order-tx-1');
  expect(first.status).toBe(202);
  expect(first.body).toEqual({ orderId: expect.stringMatching(/^ord_/), runId: expect.any(String) });
  const [row] = await query<{ id: string; run_id: string }>('select id, run_id from demo.orders where idempotency_key = $1', ['order-tx-1']);
  expect(row).toEqual({ id: first.body.orderId, run_id: first.body.runId });
  expect((await postOrder(basket, 'order-tx-1')).body).toEqual(first.body);

  // Five requests with one new key at once: one order, one run, the same answer for all five.
  const raced = await Promise.all(Array.from({ length: 5 }, () => postOrder(basket, 'order-tx-race')));
  expect(raced.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
  expect(new Set(raced.map((r) => JSON.stringify(r.body))).size).toBe(1);
  expect(await counts()).toEqual({ orders: before.orders + 2, runs: before.runs + 2 });
});

test('an order whose insert fails leaves no run behind (the run was started in the same transaction)', async () => {
  // The app's table refuses this customer: the INSERT fails after start() has inserted the run.
  await query(`create function demo.refuse_order() returns trigger language plpgsql as $$ begin raise exception 'orders from % are refused', new.customer_id; end $$`);
  await query(`create trigger refuse_order before insert on demo.orders for each row when (new.customer_id = 'cus_refused') execute function demo.refuse_order()`);
  try {
    const before = await counts();
    app?.useLogger(false); // the refused INSERT is logged as a 500 otherwise
    const refused = await postOrder({ customerId: 'cus_refused', items: [{ sku: 'MUG-01', qty: 1, price: 12.5 }] }, 'order-refused');
    app?.useLogger(['error']);
    expect(refused.status).toBe(500);
    expect(await counts()).toEqual(before);
    // Bad input is refused before anything is written: a NUL in a field, an Idempotency-Key over Kagzi's 512 characters.
    expect((await postOrder({ customerId: 'cus_\u0000', items: [{ sku: 'MUG-01', qty: 1, price: 1 }] })).status).toBe(400);
    const longKey = await postOrder({ customerId: 'cus_long', items: [{ sku: 'MUG-01', qty: 1, price: 1 }] }, 'k'.repeat(600));
    expect(longKey).toMatchObject({ status: 400, body: { message: expect.stringContaining('idempotencyKey') } });
    expect(await counts()).toEqual(before);
  } finally {
    await query('drop trigger refuse_order on demo.orders');
    await query('drop function demo.refuse_order()');
  }
});

test('the transactional step takes the stock once and the compensation gives it back once (an unpaid order)', async () => {
  const sku = 'CAP-02';
  const start = await available(sku);
  const placed = await postOrder({ customerId: 'cus_unpaid', items: [{ sku, qty: 2, price: 15 }, { sku, qty: 1, price: 15 }] });
  expect(placed.status).toBe(202);
  const runId = String(placed.body.runId);
  const orderId = String(placed.body.orderId);
  // Reserved, then parked waiting for a payment that never comes.
  await waitFor('the order to wait for its payment', async () => ((await (await fetch(`${baseUrl}/orders/${runId}`)).json()) as { status: string }).status === 'WAITING');
  expect(await available(sku)).toBe(start - 3);
  expect(await query('select items from demo.reservations where order_id = $1', [orderId])).toEqual([{ items: [{ sku, qty: 3 }] }]);
  // The 2 s payment window passes: the reservation is released and the order fails ORDER_UNPAID.
  await waitFor('the unpaid order to fail', async () => ((await (await fetch(`${baseUrl}/orders/${runId}`)).json()) as { status: string }).status === 'FAILED', 15_000);
  expect(await available(sku)).toBe(start);
  expect(await query('select 1 from demo.reservations where order_id = $1', [orderId])).toEqual([]);
});
