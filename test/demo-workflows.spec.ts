/**
 * The demo's order workflows tested as a user would, with `@kagzi/nestjs/testing`: a fresh schema, the
 * payment gateway made reliable with overrideProvider, the payment window skipped with the clock
 * instead of waited out, and the completed order's history replayed against the current code.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KagziTesting, replayHistory, replayRun, RunHistory } from '@kagzi/nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { demoDataSourceOptions } from '../apps/demo/src/database/demo-data-source';
import { OrdersModule } from '../apps/demo/src/orders/orders.module';
import { ORDER_UNPAID, OrderWorkflowV3, PAYMENT_CONFIRMED } from '../apps/demo/src/orders/order-v3.workflow';
import { PAYMENT_GATEWAY_OPTIONS } from '../apps/demo/src/orders/payments.service';
import { createTestDatabase, TestDatabase } from './support/database';

/** Histories of real runs, kept as files: replayed on every test run, as a CI job would before a deploy. */
const HISTORIES = join(__dirname, 'fixtures', 'histories');

let db: TestDatabase;
let kt: KagziTesting;

beforeAll(async () => {
  db = await createTestDatabase('demo_workflows');
  const dataSource = await new DataSource(demoDataSourceOptions(db.url)).initialize();
  kt = await KagziTesting.create({
    // The app's TypeORM setup (its tables: orders, stock), shared with Kagzi as in the app: the transactional
    // steps use the app's entities (a DataSource Kagzi opened itself would know none).
    imports: [TypeOrmModule.forRootAsync({ useFactory: () => ({}), dataSourceFactory: () => Promise.resolve(dataSource) }), OrdersModule],
    options: { database: { dataSource } },
    // A gateway that never fails, so the test is about the workflow, not the dice.
    override: (builder) => builder.overrideProvider(PAYMENT_GATEWAY_OPTIONS).useValue({ failureRate: 0, seed: 'test' }),
  });
});

afterAll(async () => {
  await kt?.close();
  await db?.drop();
});

const order = (orderId: string, qty: number) => ({ orderId, customerId: 'cus_42', items: [{ sku: 'MUG-01', qty, price: 12.5 }] });

test('a paid order ships one child run per parcel and replays green', async () => {
  const handle = await kt.client.start(OrderWorkflowV3, order('ord-paid', 6));
  await kt.waitForStatus(handle, 'WAITING');
  await kt.client.signal(handle.runId, PAYMENT_CONFIRMED, { method: 'card' });
  await kt.clock.advance('300ms'); // the warehouse pause
  const result = await handle.result({ timeout: '10s' });
  expect(result).toMatchObject({ orderId: 'ord-paid', amountCents: 7500 });
  expect(result.trackingNumber.split(',')).toHaveLength(2);
  const run = await kt.client.getRun(handle.runId);
  expect(run.children.map((c) => c.workflowName)).toEqual(['shipment', 'shipment']);
  const history = await kt.client.exportRun(handle.runId);
  await expect(replayRun(OrderWorkflowV3, history)).resolves.toEqual(result);
  // KAGZI_WRITE_HISTORIES=1 refreshes the history kept for the replay test below.
  if (process.env.KAGZI_WRITE_HISTORIES === '1') writeFileSync(join(HISTORIES, 'order-fulfilment-v3-paid.json'), `${JSON.stringify(history, null, 2)}\n`);
});

test('every history kept in test/fixtures/histories replays against the current code (the CI replay check)', async () => {
  const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    const history = JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')) as RunHistory;
    const report = await replayHistory(undefined, history);
    expect({ file, result: report.result }).toEqual({ file, result: history.status === 'COMPLETED' ? 'completed' : expect.any(String) });
  }
});

test('an unpaid order is cancelled when its payment window passes, and its stock comes back', async () => {
  const handle = await kt.client.start(OrderWorkflowV3, order('ord-unpaid', 1));
  await kt.waitForStatus(handle, 'WAITING');
  await kt.clock.advance('2s'); // the payment window, skipped
  await expect(handle.result({ timeout: '10s' })).rejects.toMatchObject({ cause: expect.objectContaining({ code: ORDER_UNPAID }) });
  const run = await kt.client.getRun(handle.runId);
  const release = run.steps.find((s) => s.name === 'InventoryService.release');
  expect(release).toMatchObject({ status: 'COMPLETED', output: { released: true } });
  const stock = kt.app.get(DataSource); // the app's, which Kagzi shares
  expect(await stock.query(`select count(*)::int as n from demo.reservations where order_id = 'ord-unpaid'`)).toEqual([{ n: 0 }]);
});
