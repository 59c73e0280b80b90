/**
 * apps/examples/parallel: ctx.parallel (fail-fast and collect-all) and ctx.race (first answer wins, a
 * durable deadline), the losers aborted, and the race's recorded winner kept by a replay.
 */
import { KagziTesting, replayRun } from '@kagzi/nestjs/testing';
import { ParallelModule } from '../../apps/examples/parallel/src/parallel.module';
import { NotificationService, QuoteService } from '../../apps/examples/parallel/src/trip.services';
import { TripWorkflow } from '../../apps/examples/parallel/src/trip.workflow';
import { createTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let kt: KagziTesting;
let quotes: QuoteService;
let notifications: NotificationService;

beforeAll(async () => {
  db = await createTestDatabase('example_parallel');
  kt = await KagziTesting.create({ imports: [ParallelModule], options: { database: { url: db.url } } });
  quotes = kt.app.get(QuoteService);
  notifications = kt.app.get(NotificationService);
});

afterEach(() => {
  Object.assign(quotes.latencyMs, { 'taxi-a': 200, 'taxi-b': 10, insurer: 10 });
  quotes.aborted.length = 0;
  notifications.down.clear();
});

afterAll(async () => {
  await kt?.close();
  await db?.drop();
});

test('bookings in parallel, the faster taxi wins the race, a failed channel is collected; a replay keeps the recorded winner', async () => {
  notifications.down.add('sms');
  const handle = await kt.client.start(TripWorkflow, { tripId: 't1' });
  const result = await handle.result({ timeout: '5s' });
  expect(result).toEqual({
    flight: 'FL-t1',
    hotel: 'HT-t1',
    taxi: { provider: 'taxi-b', cents: 6000 },
    insurance: { provider: 'insurer', cents: 7000 },
    notified: ['email:t1', 'push:t1'],
    failedChannels: ['sms'],
  });
  expect(quotes.aborted).toEqual(['taxi-a']); // the loser stopped when the winner was recorded

  // Today taxi-a would win; the replay still returns the recorded winner, without calling anyone.
  Object.assign(quotes.latencyMs, { 'taxi-a': 0, 'taxi-b': 500 });
  await expect(replayRun(TripWorkflow, await kt.client.exportRun(handle.runId))).resolves.toEqual(result);
});

test('an insurer that does not answer loses to the 30 s deadline, skipped with the clock', async () => {
  quotes.latencyMs.insurer = 'never';
  const handle = await kt.client.start(TripWorkflow, { tripId: 't2' });
  // the deadline's sleep runs in the worker beside the insurer's step: advance once it has started
  await waitFor(async () => (await kt.client.getRun(handle.runId)).steps.some((s) => s.kind === 'SLEEP'));
  await kt.clock.advance('30s');
  await expect(handle.result({ timeout: '5s' })).resolves.toMatchObject({ taxi: { provider: 'taxi-b' }, insurance: null, failedChannels: [] });
  expect(quotes.aborted).toEqual(['taxi-a', 'insurer']);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
