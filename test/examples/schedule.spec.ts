/**
 * apps/examples/schedule: a durable cron (`@Workflow({ schedule: { cron, timezone } })`), its ticks brought
 * forward with the test clock: one run per tick, started for the tick at 03:00 Berlin time.
 */
import { KagziTesting } from '@kagzi/nestjs/testing';
import { DigestService } from '../../apps/examples/schedule/src/digest.service';
import { ScheduleModule } from '../../apps/examples/schedule/src/schedule.module';
import { createTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let kt: KagziTesting;

beforeAll(async () => {
  db = await createTestDatabase('example_schedule');
  kt = await KagziTesting.create({ imports: [ScheduleModule], options: { database: { url: db.url } } });
});

afterAll(async () => {
  await kt?.close();
  await db?.drop();
});

const berlinTime = (d: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
const runs = async () => (await kt.client.listRuns({ name: 'example-nightly-digest' })).items;

async function waitForRuns(n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await runs()).length < n || (await runs()).some((r) => r.status !== 'COMPLETED')) {
    if (Date.now() > deadline) throw new Error(`expected ${n} completed scheduled run(s)`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('the schedule is stored at boot, and nothing runs before its tick', async () => {
  const [schedule] = await kt.client.listSchedules();
  expect(schedule).toMatchObject({ workflowName: 'example-nightly-digest', cron: '0 3 * * *', timezone: 'Europe/Berlin', skipped: 0 });
  expect(berlinTime(schedule.nextRunAt)).toBe('03:00');
  expect(await runs()).toEqual([]);
});

test('each day skipped with the clock starts one run, for the tick at 03:00 Berlin time', async () => {
  await kt.clock.advance('1d');
  await waitForRuns(1);
  await kt.clock.advance('1d');
  await waitForRuns(2);
  await new Promise((resolve) => setTimeout(resolve, 100)); // and no more than one per tick
  const all = await runs();
  expect(all).toHaveLength(2);

  const details = await Promise.all(all.map((r) => kt.client.getRun(r.runId)));
  const ticks = details.map((d) => new Date((d.input as { scheduledAt: Date }).scheduledAt)).sort((a, b) => a.getTime() - b.getTime());
  expect(ticks.map(berlinTime)).toEqual(['03:00', '03:00']);
  const hours = (a: Date, b: Date) => (b.getTime() - a.getTime()) / 3_600_000;
  expect([23, 24, 25]).toContain(hours(ticks[0], ticks[1])); // a day later (23 or 25 hours across a DST change)
  expect(details.map((d) => d.idempotencyKey).sort()).toEqual(ticks.map((t) => `schedule:${t.toISOString()}`));
  expect(kt.app.get(DigestService).sent).toEqual(ticks.map((t) => t.toISOString().slice(0, 10)));

  const [schedule] = await kt.client.listSchedules();
  expect(schedule.lastRunAt).toEqual(ticks[1]);
  expect([23, 24, 25]).toContain(hours(ticks[1], schedule.nextRunAt));
  expect(berlinTime(schedule.nextRunAt)).toBe('03:00');
});
