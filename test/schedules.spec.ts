/**
 * Durable cron schedules (SPEC §5.2, `@Workflow({ schedule })`), against real PostgreSQL. Schedules
 * tick every second here (a 6-field cron, seconds first) so each test watches several ticks in a few
 * seconds. Several apps on one database stand for several processes or deploys; each app provides APP
 * (a label) and every run returns which app and which code ran it.
 */
import { Provider, Type } from '@nestjs/common';
import { InvalidOptionsError, WorkflowDefinition } from '@kagzi/nestjs';
import { nextTick, parseSchedule } from '../libs/kagzi/src/schedules/cron';
import { APP, Gate, scheduled, scheduleEffects } from './fixtures/schedule-workflows';
import { at, completed as completedRuns, recordTicks, RunRow, runsOf as runsOfTable, scheduleOf, SECOND, TickLog } from './fixtures/schedule-runs';
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, delay, KagziTestApp, rejectionOf, sql, waitFor } from './support/app';

let db: TestDatabase;
let tickLog: TickLog;

function boot(label: string, workflows: Array<Type<WorkflowDefinition<never, unknown>>>, worker?: false): Promise<KagziTestApp> {
  const providers: Provider[] = [{ provide: APP, useValue: label }, ...workflows];
  return bootKagzi({ url: db.url, providers, ...(worker === false ? { worker: false } : {}) });
}

const runsOf = (name: string): Promise<RunRow[]> => runsOfTable(db.url, name);
const completed = (name: string, count: number, which?: (r: RunRow) => boolean): Promise<RunRow[]> => completedRuns(db.url, name, count, which);

beforeAll(async () => {
  db = await createTestDatabase('schedules');
});

beforeEach(() => {
  tickLog = recordTicks();
});

afterEach(async () => {
  jest.restoreAllMocks();
  await closeAllApps();
});

afterAll(async () => {
  await closeAllApps();
  await db.drop();
});

describe('schedules', () => {
  it('starts exactly one run per tick with three worker apps ticking the same schedule', async () => {
    const name = 'every-second';
    const Every = scheduled(name, 1, '* * * * * *');
    const apps = [await boot('a', [Every]), await boot('b', [Every]), await boot('c', [Every])];
    const from = Date.now();
    const callsAtFrom = new Map(tickLog.calls);
    await delay(4_200);
    const to = Date.now();
    const callsInWindow = [...tickLog.calls].map(([store, n]) => n - (callsAtFrom.get(store) ?? 0));
    // Every whole second in the window is a tick; its run may still be finishing.
    const ticks: string[] = [];
    for (let t = Math.ceil(from / SECOND) * SECOND; t <= to - 100; t += SECOND) ticks.push(new Date(t).toISOString());
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    const done = await completed(name, ticks.length, (r) => ticks.includes(r.scheduled_at));
    const schedule = await scheduleOf(apps[0], name);
    const all = await runsOf(name);
    await Promise.all(apps.map((a) => a.close()));

    for (const tick of ticks) {
      const runs = all.filter((r) => r.scheduled_at === tick);
      expect(runs.map((r) => r.key)).toEqual([`schedule:${tick}`]);
      expect(scheduleEffects.count(name, tick)).toBe(1);
    }
    // The row lock decided every tick: one app started its run, no app ran into the idempotency key.
    const claimed = [...tickLog.outcomes.values()].flat().filter((o) => ticks.includes(o.tick.toISOString()));
    expect(claimed.filter((o) => o.kind === 'started').map((o) => o.tick.toISOString()).sort()).toEqual(ticks);
    expect(claimed.filter((o) => o.kind !== 'started')).toEqual([]);
    // Cheap: each app sends one statement per tick, never one per poll (every 200 ms here).
    expect(callsInWindow).toHaveLength(3);
    for (const calls of callsInWindow) expect(calls).toBeLessThanOrEqual(ticks.length + 1);
    // Runs are started within a fraction of a second of their tick.
    const lag = done.map((r) => r.created_at.getTime() - at(r.scheduled_at)).sort((x, y) => x - y);
    console.log(`tick → run inserted: min ${lag[0]} ms, median ${lag[Math.floor(lag.length / 2)]} ms, max ${lag.at(-1)} ms`);
    expect(lag[0]).toBeGreaterThanOrEqual(0);
    expect(lag.at(-1)).toBeLessThan(500);

    expect(schedule).toMatchObject({ workflowName: name, version: 1, cron: '* * * * * *', timezone: 'UTC', skipped: 0 });
    const last = all.find((r) => r.id === schedule?.lastRunId);
    expect(last && at(last.scheduled_at)).toBe(schedule?.lastRunAt?.getTime());
    expect(schedule!.nextRunAt.getTime() - schedule!.lastRunAt!.getTime()).toBe(SECOND);
  });

  it('skips a tick while the previous run is still in flight, and counts it', async () => {
    const name = 'slow-second';
    const gate = new Gate();
    gate.close();
    const kagzi = await boot('a', [scheduled(name, 1, '* * * * * *', gate)]);
    const first = await waitFor('the first run', async () => (await runsOf(name)).at(0));
    // The first run waits at the gate while later ticks come and are skipped (waited for, not timed: a busy machine ticks late).
    const whileBlocked = await waitFor('two ticks skipped while the first run is in flight', async () => {
      const info = await scheduleOf(kagzi, name);
      return info && info.skipped >= 2 ? info : undefined;
    }, 15_000);
    gate.open();
    const [, second] = await completed(name, 2);
    const schedule = await scheduleOf(kagzi, name);
    const runs = await runsOf(name);
    await kagzi.close();

    // Every tick between the first run's and the second's was skipped: none lost, none run.
    const between = (at(second.scheduled_at) - at(first.scheduled_at)) / SECOND - 1;
    expect(between).toBeGreaterThanOrEqual(2);
    expect(whileBlocked?.skipped).toBeGreaterThanOrEqual(2);
    expect(whileBlocked?.lastRunId).toBe(first.id);
    // A ticker that wakes late (a busy machine) fires only the latest due tick: the ones it slept
    // through are coalesced, neither run nor counted. So at most every tick in between is counted.
    expect(schedule?.skipped).toBeGreaterThanOrEqual(2);
    expect(schedule?.skipped).toBeLessThanOrEqual(between);
    expect(runs.slice(0, 2).map((r) => r.id)).toEqual([first.id, second.id]);
    expect(scheduleEffects.count(name, first.scheduled_at)).toBe(1);
    expect(scheduleEffects.count(name, second.scheduled_at)).toBe(1);
    expect([...tickLog.outcomes.values()].flat().filter((o) => o.kind === 'skipped')).toHaveLength(schedule?.skipped ?? -1);
  });

  it('refuses a bad cron expression or an unknown time zone at boot, naming the workflow', async () => {
    const badCron = await rejectionOf(boot('bad', [scheduled('nightly-report-bad-cron', 1, '61 * * * *')]));
    expect(badCron).toBeInstanceOf(InvalidOptionsError);
    expect((badCron as Error).message).toMatch(/nightly-report-bad-cron.*"61 \* \* \* \*" is not a valid cron expression/);

    const badZone = await rejectionOf(boot('bad', [scheduled('nightly-report-bad-zone', 1, { cron: '0 3 * * *', timezone: 'Mars/Olympus' })]));
    expect(badZone).toBeInstanceOf(InvalidOptionsError);
    expect((badZone as Error).message).toMatch(/nightly-report-bad-zone.*"Mars\/Olympus" is not an IANA time zone/);

    // Client-only processes check them too; an expression that never fires is refused like a malformed one.
    const never = await rejectionOf(boot('bad', [scheduled('nightly-report-never', 1, '0 0 31 2 *')], false));
    expect(never).toBeInstanceOf(InvalidOptionsError);
    expect((never as Error).message).toContain('nightly-report-never');
    expect(await sql(db.url, "select 1 from kagzi.schedules where workflow_name like 'nightly-report-%'")).toEqual([]);
  });

  it('computes ticks in the schedule\'s time zone (UTC by default)', async () => {
    const winter = new Date('2025-01-15T12:00:00Z');
    const summer = new Date('2025-07-15T12:00:00Z');
    const berlin = parseSchedule({ cron: '0 3 * * *', timezone: 'Europe/Berlin' }, 'test');
    expect(nextTick(berlin, winter).toISOString()).toBe('2025-01-16T02:00:00.000Z'); // CET, UTC+1
    expect(nextTick(berlin, summer).toISOString()).toBe('2025-07-16T01:00:00.000Z'); // CEST, UTC+2
    const utc = parseSchedule('0 3 * * *', 'test');
    expect(utc.timezone).toBe('UTC');
    expect(nextTick(utc, winter).toISOString()).toBe('2025-01-16T03:00:00.000Z');
    const kolkata = parseSchedule({ cron: '0 9 * * 1', timezone: 'Asia/Kolkata' }, 'test'); // Mondays 09:00, UTC+5:30
    expect(nextTick(kolkata, winter).toISOString()).toBe('2025-01-20T03:30:00.000Z');

    // End to end: the registered schedule's next run is the zone's next 09:00, i.e. 03:30 UTC.
    const name = 'kolkata-morning';
    const kagzi = await boot('a', [scheduled(name, 1, { cron: '0 9 * * *', timezone: 'Asia/Kolkata' })]);
    const bootedAt = new Date();
    const schedule = await scheduleOf(kagzi, name);
    await kagzi.close();
    expect(schedule).toMatchObject({ cron: '0 9 * * *', timezone: 'Asia/Kolkata', skipped: 0 });
    expect(schedule?.nextRunAt.toISOString()).toMatch(/T03:30:00\.000Z$/);
    expect(schedule!.nextRunAt.getTime() - bootedAt.getTime()).toBeLessThanOrEqual(24 * 3600 * SECOND);
    expect(schedule!.nextRunAt.getTime()).toBeGreaterThan(bootedAt.getTime() - SECOND);
  });

  it('does not replay ticks missed while no worker ran: the next tick after a restart is the first one after it', async () => {
    const name = 'missed';
    const Missed = scheduled(name, 1, '* * * * * *');
    const before = await boot('before', [Missed]);
    await completed(name, 2);
    await before.close();
    const stoppedAt = Date.now();
    await delay(3_300);
    const client = await boot('client', [Missed], false);
    const whileStopped = await scheduleOf(client, name);
    const restartAt = Date.now();
    const after = await boot('after', [Missed]);
    const registered = await scheduleOf(after, name);
    await completed(name, 2, (r) => at(r.scheduled_at) > stoppedAt);
    const runs = await runsOf(name);
    await Promise.all([after.close(), client.close()]);

    expect(whileStopped!.nextRunAt.getTime()).toBeLessThan(restartAt - 2 * SECOND); // stale: nothing ticks
    expect(registered!.nextRunAt.getTime()).toBeGreaterThan(restartAt); // boot moved it to the next future tick
    const lastBefore = runs.filter((r) => at(r.scheduled_at) <= stoppedAt).at(-1)!;
    const firstAfter = runs.find((r) => at(r.scheduled_at) > stoppedAt)!;
    expect(at(firstAfter.scheduled_at)).toBeGreaterThan(restartAt);
    expect(at(firstAfter.scheduled_at) - at(lastBefore.scheduled_at)).toBeGreaterThanOrEqual(4 * SECOND);
    expect(firstAfter.ran_on).toBe('after');
    expect((await sql(db.url, 'select skipped from kagzi.schedules where workflow_name = $1', [name]))[0]).toEqual({ skipped: 0 });
  });

  it('registers and ticks nothing in a client-only process (worker: false)', async () => {
    const name = 'client-only';
    const ClientOnly = scheduled(name, 1, '* * * * * *');
    const client = await boot('client', [ClientOnly], false);
    await delay(1_500);
    expect(await sql(db.url, 'select * from kagzi.schedules where workflow_name = $1', [name])).toEqual([]);
    expect(await runsOf(name)).toEqual([]);
    expect(tickLog.calls.size).toBe(0);
    expect(await scheduleOf(client, name)).toBeUndefined();

    // The same class in a worker process does tick.
    const worker = await boot('worker', [ClientOnly]);
    const [run] = await completed(name, 1);
    expect(run.ran_on).toBe('worker');
    expect(await scheduleOf(client, name)).toMatchObject({ workflowName: name, version: 1 });
    await Promise.all([worker.close(), client.close()]);
  });

  it('re-computes the next run when a deploy changes the cron of a version', async () => {
    const name = 'recron';
    const yearly = await boot('yearly', [scheduled(name, 1, '0 0 1 1 *')]);
    const once = await scheduleOf(yearly, name);
    await yearly.close();
    const everySecond = await boot('every-second', [scheduled(name, 1, '* * * * * *')]);
    const changed = await scheduleOf(everySecond, name);
    await completed(name, 1);
    await everySecond.close();

    expect(once).toMatchObject({ cron: '0 0 1 1 *' });
    expect(once?.nextRunAt.toISOString()).toMatch(/-01-01T00:00:00\.000Z$/);
    expect(changed).toMatchObject({ cron: '* * * * * *' });
    expect(changed!.nextRunAt.getTime() - Date.now()).toBeLessThan(SECOND);
  });

  it('follows the default version: a deploy of v2 moves the ticks to v2 and its cron, a rollback back to v1', async () => {
    const name = 'deployed';
    const V1 = scheduled(name, 1, '* * * * * *');
    const V2 = scheduled(name, 2, '*/2 * * * * *'); // even seconds only
    const old = await boot('old', [V1]);
    await completed(name, 1);
    const deployAt = Date.now();
    const fresh = await boot('new', [V2]); // a worker serving v2: it is the default now
    const deployed = await scheduleOf(fresh, name);
    // Two even seconds at least before the rollback, so a ticker that wakes late on a loaded machine still fires one on v2.
    await delay(4_600);
    await fresh.client.setDefaultVersion(name, 1);
    const rollbackAt = Date.now();
    const rolledBack = await scheduleOf(fresh, name);
    await completed(name, 2, (r) => at(r.scheduled_at) > rollbackAt);
    const runs = (await runsOf(name)).filter((r) => r.status === 'COMPLETED');
    await Promise.all([old.close(), fresh.close()]);

    expect(deployed).toMatchObject({ version: 2, cron: '*/2 * * * * *' });
    expect(rolledBack).toMatchObject({ version: 1, cron: '* * * * * *' });
    const onV2 = runs.filter((r) => at(r.scheduled_at) > deployAt && at(r.scheduled_at) < rollbackAt - 500);
    expect(onV2.length).toBeGreaterThanOrEqual(1);
    for (const r of onV2) {
      expect(r).toMatchObject({ version: 2, ran_on: 'new', code: `${name} v2 in ${name} v2` });
      expect(new Date(r.scheduled_at).getUTCSeconds() % 2).toBe(0);
    }
    const before = runs.filter((r) => at(r.scheduled_at) < deployAt);
    const afterRollback = runs.filter((r) => at(r.scheduled_at) > rollbackAt);
    for (const r of [...before, ...afterRollback]) expect(r).toMatchObject({ version: 1, ran_on: 'old' });
    // The rollback's ticks come every second again, from the v1 row.
    expect(at(afterRollback[1].scheduled_at) - at(afterRollback[0].scheduled_at)).toBe(SECOND);
  });
});
