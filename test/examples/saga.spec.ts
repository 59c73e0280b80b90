/**
 * apps/examples/saga: bookings with compensation, undone newest first after a failure or a client.cancel
 * (a WorkflowCancelledError at the pending sleep); each compensation step runs once. The one-day window is
 * skipped with the clock.
 */
import { WorkflowCancelledError } from '@kagzi/nestjs';
import { KagziTesting } from '@kagzi/nestjs/testing';
import { SagaModule } from '../../apps/examples/saga/src/saga.module';
import { TravelService } from '../../apps/examples/saga/src/travel.service';
import { TripSagaWorkflow } from '../../apps/examples/saga/src/trip-saga.workflow';
import { createTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let kt: KagziTesting;
let travel: TravelService;

beforeAll(async () => {
  db = await createTestDatabase('example_saga');
  kt = await KagziTesting.create({ imports: [SagaModule], options: { database: { url: db.url } } });
  travel = kt.app.get(TravelService);
});

afterEach(() => {
  travel.ledger.length = 0;
});

afterAll(async () => {
  await kt?.close();
  await db?.drop();
});

test('with no cancel in the window (skipped with the clock), the tickets are issued and nothing is undone', async () => {
  const handle = await kt.client.start(TripSagaWorkflow, { tripId: 'ok', cents: 84000 });
  await kt.waitForStatus(handle, 'SLEEPING');
  await kt.clock.advance('1d');
  await expect(handle.result({ timeout: '5s' })).resolves.toEqual({ tripId: 'ok', tickets: 'TKT-ok' });
  expect(travel.ledger).toEqual(['reserve flight ok', 'reserve hotel ok', 'charge ok 84000', 'issue tickets ok']);
});

test('a declined charge undoes the hotel and the flight, newest first, and the run fails with the charge error', async () => {
  const handle = await kt.client.start(TripSagaWorkflow, { tripId: 'big', cents: 900_000 });
  await expect(handle.result({ timeout: '5s' })).rejects.toMatchObject({ error: { name: 'PermanentError', code: 'CARD_LIMIT' } });
  expect(travel.ledger).toEqual(['reserve flight big', 'reserve hotel big', 'cancel hotel HT-big', 'cancel flight FL-big']);
  expect(await handle.status()).toBe('FAILED');
});

test('client.cancel during the window refunds and cancels everything once; the run ends CANCELLED', async () => {
  const handle = await kt.client.start(TripSagaWorkflow, { tripId: 'nope', cents: 84000 });
  await kt.waitForStatus(handle, 'SLEEPING');
  await kt.client.cancel(handle.runId, 'the customer changed plans');
  const error = await handle.result({ timeout: '5s' }).catch((err: unknown) => err);
  expect(error).toBeInstanceOf(WorkflowCancelledError);
  expect(error).toMatchObject({ reason: 'the customer changed plans' });
  expect(travel.ledger).toEqual(['reserve flight nope', 'reserve hotel nope', 'charge nope 84000', 'refund pay-nope', 'cancel hotel HT-nope', 'cancel flight FL-nope']);
  const run = await kt.client.getRun(handle.runId);
  expect(run.status).toBe('CANCELLED');
  expect(run.steps.filter((s) => s.name === 'TravelService.refund')).toEqual([expect.objectContaining({ status: 'COMPLETED' })]);
  // advancing past the window changes nothing: the sleep was cut by the cancel and no ticket is issued
  await kt.clock.advance('1d');
  expect(travel.ledger).not.toContain('issue tickets nope');
});
