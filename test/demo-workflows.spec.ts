/**
 * The demo's order workflows tested as a user would, with `@kagzi/nestjs/testing`: a fresh schema, the
 * payment gateway made reliable with overrideProvider, the payment window skipped with the clock
 * instead of waited out, and the completed order's history replayed against the current code.
 */
import { KagziTesting, replayRun } from '@kagzi/nestjs/testing';
import { OrdersModule } from '../apps/demo/src/orders/orders.module';
import { ORDER_UNPAID, OrderWorkflowV3, PAYMENT_CONFIRMED } from '../apps/demo/src/orders/order-v3.workflow';
import { PAYMENT_GATEWAY_OPTIONS } from '../apps/demo/src/orders/payments.service';
import { createTestDatabase, TestDatabase } from './support/database';
import { waitForStatus } from './support/app';

let db: TestDatabase;
let kt: KagziTesting;

beforeAll(async () => {
  db = await createTestDatabase('demo_workflows');
  kt = await KagziTesting.create({
    imports: [OrdersModule],
    options: { database: { url: db.url } },
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
  await waitForStatus(handle, 'WAITING');
  await kt.client.signal(handle.runId, PAYMENT_CONFIRMED, { method: 'card' });
  await kt.clock.advance('300ms'); // the warehouse pause
  const result = await handle.result({ timeout: '10s' });
  expect(result).toMatchObject({ orderId: 'ord-paid', amountCents: 7500 });
  expect(result.trackingNumber.split(',')).toHaveLength(2);
  const run = await kt.client.getRun(handle.runId);
  expect(run.children.map((c) => c.workflowName)).toEqual(['shipment', 'shipment']);
  await expect(replayRun(OrderWorkflowV3, await kt.client.exportRun(handle.runId))).resolves.toEqual(result);
});

test('an unpaid order is cancelled when its payment window passes, and its stock comes back', async () => {
  const handle = await kt.client.start(OrderWorkflowV3, order('ord-unpaid', 1));
  await waitForStatus(handle, 'WAITING');
  await kt.clock.advance('2s'); // the payment window, skipped
  await expect(handle.result({ timeout: '10s' })).rejects.toMatchObject({ cause: expect.objectContaining({ code: ORDER_UNPAID }) });
  const run = await kt.client.getRun(handle.runId);
  const release = run.steps.find((s) => s.name === 'InventoryService.release');
  expect(release).toMatchObject({ status: 'COMPLETED', output: { released: true } });
});
