/**
 * Events across processes (SPEC §5.1): `client.getEvent` waiting in the jest process is answered by
 * `ctx.setEvent` executed by a workflow in another process (test/fixtures/event-process.ts), which has its
 * own connection pool and LISTEN connection. Nothing is shared between the two but the database.
 *
 * The reading app in the jest process is a worker that serves no workflow with a poll interval of 20 s, so
 * its waiting reads re-read the table only every 20 s: a value that reaches it within a few seconds was
 * delivered by the other process's NOTIFY on this process's LISTEN connection. A client-only app (1 s
 * poll, the usual set-up of a client) reads along in the first test. The bounds asserted are loose (10 s
 * against a 20 s poll and a 30 s timeout), not latencies.
 */
import { join } from 'node:path';
import { createTestDatabase, TestDatabase } from './support/database';
import { FixtureProcess } from './support/fixture-process';
import { bootKagzi, closeAllApps, delay, KagziTestApp, sql, waitFor, waitForStatus } from './support/app';
import type { EventValue } from './fixtures/event-process';

const FIXTURE = join(__dirname, 'fixtures', 'event-process.ts');
const WORKFLOW = 'EventProcess.Announce';
/** Far below the reader's 20 s poll interval and the 30 s timeout of the waiting reads. */
const PROMPT_MS = 10_000;



let db: TestDatabase;
let worker: FixtureProcess;
/** Waiting reads re-read only every 20 s: anything faster is the cross-process notification. */
let reader: KagziTestApp;

beforeAll(async () => {
  db = await createTestDatabase('events_process');
  // Booted first: its module runs the migrations before the other process starts.
  reader = await bootKagzi({ url: db.url, worker: { name: 'jest-reader', pollInterval: '20s' } });
  worker = new FixtureProcess('event-worker', FIXTURE, { DB_URL: db.url });
  await worker.waitFor('ready', (e) => e.event === 'ready');
});

afterAll(async () => {
  await worker?.forceStop();
  await closeAllApps();
  await db?.drop();
});

const eventRow = async (runId: string, key: string): Promise<{ set_at: Date } | undefined> =>
  (await sql<{ set_at: Date }>(db.url, 'select set_at from kagzi.run_events where workflow_run_id = $1 and key = $2', [runId, key]))[0];

/** Starts a run in the other process and waits until it set "early" and parked for signal "go". */
async function startAnnounce(token: string): Promise<string> {
  const handle = await reader.client.start<{ token: string }, string>(WORKFLOW, { token });
  await waitForStatus(handle, 'WAITING', 15_000);
  return handle.runId;
}

const expectedValue = (token: string, stage: string): EventValue => ({ token, stage, by: 'event-worker', pid: worker.pid! });

describe('getEvent in this process, setEvent in another', () => {
  // Breakage caught: a waiting getEvent that is not woken by a set made in another process (no NOTIFY sent
  // by the set, a notification channel or payload the reader does not match, a LISTEN connection that does
  // not subscribe to events) waits out the reader's 20 s poll, over PROMPT_MS; one that never re-reads gives
  // undefined after 30 s; one that does not wait at all settles before the signal.
  it('a getEvent waiting with a 30 s timeout gets the value as soon as the other process sets it', async () => {
    const clientOnly = await bootKagzi({ url: db.url, worker: false });
    const runId = await startAnnounce('wait');
    const settled: string[] = [];
    const read = (label: string, app: KagziTestApp): Promise<EventValue | undefined> =>
      app.client.getEvent<EventValue>(runId, 'status', { timeout: '30s' }).finally(() => settled.push(label));
    const reads = [read('reader', reader), read('client-only', clientOnly)];

    await delay(500);
    expect(settled).toEqual([]); // both are waiting: nothing is set yet
    expect(await eventRow(runId, 'status')).toBeUndefined();
    const sentAt = Date.now();
    await reader.client.signal(runId, 'go');
    const [value, alsoValue] = await Promise.all(reads);
    const elapsed = Date.now() - sentAt;

    expect(value).toEqual(expectedValue('wait', 'status'));
    expect(value!.pid).not.toBe(process.pid); // set by the other process
    expect(alsoValue).toEqual(value);
    expect(elapsed).toBeLessThan(PROMPT_MS);
    // the set happened in the other process while the reads were waiting
    await worker.waitFor('the set of "status"', (e) => e.event === 'set' && e.runId === runId && e.key === 'status');
    const row = await eventRow(runId, 'status');
    expect(row!.set_at.getTime()).toBeGreaterThanOrEqual(sentAt - 50);
    console.log(`events-process: "status" reached both readers ${elapsed} ms after the signal (reader poll 20 s)`);

    await reader.client.signal(runId, 'finish');
    expect(await reader.client.getHandle<string>(runId).result({ timeout: '15s' })).toBe('done');
    await clientOnly.close();
  });

  // Breakage caught: a read for a key that was never set that returns another key's value (the set of
  // "status" in the other process during the wait notifies the same run), that returns before its timeout,
  // or that never returns (a wait without the deadline).
  it('a getEvent for a key that is never set gives undefined after its timeout, even while the run sets other keys', async () => {
    const runId = await startAnnounce('never');
    const started = Date.now();
    const reading = reader.client.getEvent(runId, 'never', { timeout: '1500ms' });
    await reader.client.signal(runId, 'go'); // the other process now sets "status" for this run
    expect(await reading).toBeUndefined();
    const resolvedAt = Date.now();
    expect(resolvedAt - started).toBeGreaterThanOrEqual(1_400);
    expect(resolvedAt - started).toBeLessThan(PROMPT_MS);
    // the other key was really set, by the other process, during the wait
    const status = await waitFor('"status" to be set', () => eventRow(runId, 'status'));
    expect(status.set_at.getTime()).toBeLessThan(resolvedAt);
    expect(await reader.client.getEvent(runId, 'status')).toEqual(expectedValue('never', 'status'));
    await reader.client.signal(runId, 'finish');
  });

  // Breakage caught: a waiting read that does not look at the stored value first (it would wait for a
  // notification that already went out: the 20 s poll, over PROMPT_MS), or that loses the value set by the
  // other process (undefined, or another value).
  it('a value the other process set before getEvent is called is returned at once', async () => {
    const runId = await startAnnounce('before');
    expect(await eventRow(runId, 'early')).toBeDefined(); // set (and committed) by the other process already
    const started = Date.now();
    expect(await reader.client.getEvent<EventValue>(runId, 'early', { timeout: '30s' })).toEqual(expectedValue('before', 'early'));
    expect(Date.now() - started).toBeLessThan(PROMPT_MS);
    expect(await reader.client.getEvent<EventValue>(runId, 'early')).toEqual(expectedValue('before', 'early'));
    await reader.client.signal(runId, 'go');
    await reader.client.signal(runId, 'finish');
    expect(await reader.client.getHandle<string>(runId).result({ timeout: '15s' })).toBe('done');
  });
});
