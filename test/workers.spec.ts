/**
 * Production-ready workers, against real PostgreSQL: the worker registry (kagzi.workers) and its event
 * log (kagzi.worker_events), heartbeats, name uniqueness, graceful drain and hand-back events, crash
 * detection of a SIGKILLed worker process (LOST), pruning by retention, `client.listWorkers()`, and the
 * Terminus health indicator's up/down transitions (draining, database unreachable, deaf worker).
 *
 * Not repeated here (covered elsewhere): the concurrency bound and the hand-back replay (test/core.spec.ts),
 * the heartbeat that notices a stolen lease (core.spec "zombie fencing"), SIGTERM drain of a worker process,
 * hand-back resumed by another process, SIGKILL takeover and "no signal listeners" (test/processes.spec.ts).
 *
 * Every test gets a database of its own: worker rows, events and due runs of one test never leak into the
 * counts of another.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Injectable, Logger } from '@nestjs/common';
import { Client } from 'pg';
import { InvalidOptionsError, KagziHealthIndicator, Step, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { adminUrl, createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, CallCounter, closeAllApps, deferred, Deferred, delay, KagziTestApp, rejectionOf, sql, waitFor, waitForStatus } from './support/app';

const ROOT = join(__dirname, '..');
const FIXTURE = join(__dirname, 'fixtures', 'worker-process.ts');
const LIBRARY_VERSION: string = JSON.parse(readFileSync(join(ROOT, 'libs', 'kagzi', 'package.json'), 'utf8')).version;
/** bootKagzi's worker defaults (test/support/app.ts FAST_WORKER). */
const HEARTBEAT_MS = 500;
const LEASE_MS = 2_000;
const POLL_MS = 200;

// ---------------------------------------------------------------------------------------------------
// Fixtures: a parcel whose delivery step blocks until the test lets it go
// ---------------------------------------------------------------------------------------------------

const executions = new CallCounter();
const gates = new Map<string, Deferred>();
const entered = new Map<string, Deferred>();
const signals = new Map<string, AbortSignal[]>();

/** The next Parcel run for `parcelId` blocks in its step until `release()`. */
function hold(parcelId: string): { entered: Promise<void>; release: () => void } {
  gates.set(parcelId, deferred());
  entered.set(parcelId, deferred());
  return { entered: entered.get(parcelId)!.promise, release: () => gates.get(parcelId)!.resolve() };
}

@Injectable()
class Courier {
  @Step({ name: 'Courier.deliver' })
  async deliver(parcelId: string): Promise<string> {
    executions.bump('Courier.deliver', parcelId);
    entered.get(parcelId)?.resolve();
    await gates.get(parcelId)?.promise;
    return `delivered:${parcelId}`;
  }
}

@Workflow({ name: 'Parcel' })
class ParcelWorkflow implements WorkflowDefinition<{ parcelId: string }, string> {
  constructor(private readonly courier: Courier) {}

  async run(input: { parcelId: string }, ctx: WorkflowContext): Promise<string> {
    signals.set(input.parcelId, [...(signals.get(input.parcelId) ?? []), ctx.signal]);
    return this.courier.deliver(input.parcelId);
  }
}

@Workflow({ name: 'Greeter' })
class GreeterWorkflow implements WorkflowDefinition<{ who: string }, string> {
  async run(input: { who: string }): Promise<string> {
    return `hello ${input.who}`;
  }
}

/** Registered in some apps but served by none of their workers: an "unserved version" for health. */
@Workflow({ name: 'Ledger' })
class LedgerWorkflow implements WorkflowDefinition<Record<string, never>, string> {
  async run(): Promise<string> {
    return 'posted';
  }
}

const PROVIDERS = [Courier, ParcelWorkflow, GreeterWorkflow];

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

interface WorkerDbRow {
  id: string;
  name: string;
  hostname: string;
  pid: number;
  status: string;
  started_at: Date;
  last_heartbeat_at: Date;
  stopped_at: Date | null;
  concurrency: number;
  heartbeat_interval_ms: number;
  active_runs: number;
  workflows: string[];
  library_version: string;
}

interface EventRow {
  worker_id: string;
  worker_name: string;
  event_type: string;
  data: Record<string, unknown> | null;
  at: Date;
}

interface HealthDetails {
  status: 'up' | 'down';
  reason?: string;
  [key: string]: unknown;
}

/** Spawned test/fixtures/worker-process.ts (as test/processes.spec.ts drives it): ready on stdout, killable. */
class FixtureWorker {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
      stdio: ['pipe', 'pipe', 'pipe'], // stdin held open: the fixture exits when it closes (orphan guard)
    });
    this.child.stdin?.on('error', () => undefined);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async ready(timeoutMs = 20_000): Promise<void> {
    await waitFor(() => `the fixture worker to report ready; its output:\n${this.output.slice(-4000)}`, () => {
      if (!this.alive) throw new Error(`the fixture worker exited before it was ready; its output:\n${this.output.slice(-4000)}`);
      return this.output.split('\n').some((line) => line.startsWith('{"event":"ready"'));
    }, timeoutMs, 50);
  }

  kill(signal: NodeJS.Signals): number {
    const at = Date.now();
    this.child.kill(signal);
    return at;
  }

  async forceStop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

async function withAdmin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------------

describe('workers: registry, heartbeats, drain, crash detection, health', () => {
  let db: TestDatabase;
  const children = new Set<FixtureWorker>();

  beforeEach(async () => {
    db = await createTestDatabase('workers');
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    for (const gate of gates.values()) gate.resolve(); // no step body stays blocked past its test
    await Promise.all([...children].map((c) => c.forceStop()));
    children.clear();
    await closeAllApps();
    await db.drop();
  });

  const workerRow = async (id: string): Promise<WorkerDbRow> => (await sql<WorkerDbRow & Record<string, unknown>>(db.url, 'select * from kagzi.workers where id = $1', [id]))[0];
  const workerByName = async (name: string): Promise<WorkerDbRow[]> =>
    sql<WorkerDbRow & Record<string, unknown>>(db.url, 'select * from kagzi.workers where name = $1 order by started_at', [name]);
  const eventsOf = (workerId: string): Promise<EventRow[]> =>
    sql<EventRow & Record<string, unknown>>(db.url, 'select worker_id, worker_name, event_type, data, at from kagzi.worker_events where worker_id = $1 order by id', [
      workerId,
    ]);
  const healthOf = async (kagzi: KagziTestApp): Promise<HealthDetails> => (await kagzi.app.get(KagziHealthIndicator).isHealthy()).kagzi as HealthDetails;

  // -------------------------------------------------------------------------------------------------
  // registry and heartbeats
  // -------------------------------------------------------------------------------------------------

  it('registers at bootstrap: a RUNNING workers row (name, hostname, pid, concurrency, served pairs, library version) and a STARTED event', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: [...PROVIDERS, LedgerWorkflow], worker: { name: 'reg-1', concurrency: 3, workflows: ['Parcel', 'Greeter'] } });

    const row = await workerRow(kagzi.worker.id);
    expect(row).toMatchObject({
      name: 'reg-1',
      hostname: hostname(),
      pid: process.pid,
      status: 'RUNNING',
      concurrency: 3,
      heartbeat_interval_ms: HEARTBEAT_MS,
      active_runs: 0,
      stopped_at: null,
      library_version: LIBRARY_VERSION,
    });
    // the (name, version) pairs this worker serves: not Ledger, which the app registers but the worker does not serve
    expect([...row.workflows].sort()).toEqual(['Greeter@1', 'Parcel@1']);
    expect(await eventsOf(kagzi.worker.id)).toEqual([
      {
        worker_id: kagzi.worker.id,
        worker_name: 'reg-1',
        event_type: 'STARTED',
        data: { hostname: hostname(), pid: process.pid, concurrency: 3, workflows: row.workflows },
        at: expect.any(Date),
      },
    ]);
    expect(kagzi.worker.state).toBe('RUNNING');
  });

  it('heartbeats every heartbeatInterval: last_heartbeat_at advances, active_runs follows the runs held, and the same tick extends their lease', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'beat-1' } });
    const parcel = hold('beat-p1');
    const handle = await kagzi.client.start(ParcelWorkflow, { parcelId: 'beat-p1' });
    await parcel.entered;

    type Sample = { last_heartbeat_at: Date; active_runs: number; due_at: Date };
    const sample = async (): Promise<Sample> =>
      (
        await sql<Sample & Record<string, unknown>>(
          db.url,
          'select w.last_heartbeat_at, w.active_runs, r.due_at from kagzi.workers w, kagzi.workflow_runs r where w.id = $1 and r.id = $2',
          [kagzi.worker.id, handle.runId],
        )
      )[0];
    // One heartbeat statement writes the worker row and the lease with the same now(): after a tick that
    // renewed the lease, due_at is exactly leaseDuration after last_heartbeat_at.
    await waitFor('a heartbeat reporting 1 active run and renewing its lease', async () => {
      const s = await sample();
      return s.active_runs === 1 && s.due_at.getTime() - s.last_heartbeat_at.getTime() === LEASE_MS;
    }, 3_000);

    const beats: Sample[] = [];
    for (const until = Date.now() + 1_700; Date.now() < until; await delay(40)) {
      const s = await sample();
      if (beats.length === 0 || s.last_heartbeat_at.getTime() !== beats[beats.length - 1].last_heartbeat_at.getTime()) beats.push(s);
    }
    // 1.7 s at one tick per 500 ms: at least 3 distinct heartbeats, roughly one interval apart
    expect(beats.length).toBeGreaterThanOrEqual(3);
    const gaps = beats.slice(1).map((b, i) => b.last_heartbeat_at.getTime() - beats[i].last_heartbeat_at.getTime());
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(HEARTBEAT_MS - 150);
      expect(gap).toBeLessThanOrEqual(HEARTBEAT_MS * 2 + 200);
    }
    for (const b of beats.slice(1)) {
      expect(b.active_runs).toBe(1);
      expect(b.due_at.getTime() - b.last_heartbeat_at.getTime()).toBe(LEASE_MS); // renewed to now() + lease, never cumulative
    }

    parcel.release();
    expect(await handle.result({ timeout: '5s' })).toBe('delivered:beat-p1');
    await waitFor('active_runs back to 0', async () => (await workerRow(kagzi.worker.id)).active_runs === 0, 3_000);
    expect((await workerRow(kagzi.worker.id)).status).toBe('RUNNING');
  });

  it('client.listWorkers(): every worker with the SPEC WorkerInfo fields, newest first, stopped ones included', async () => {
    const a = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'list-a', concurrency: 2 } });
    const b = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'list-b', concurrency: 5, workflows: ['Greeter'] } });
    const parcel = hold('list-p1');
    const handle = await a.client.start(ParcelWorkflow, { parcelId: 'list-p1' });
    await parcel.entered;
    await b.close();
    await waitFor('list-a to report its active run', async () => (await workerRow(a.worker.id)).active_runs === 1, 3_000);

    const viewer = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: false }); // a client-only app sees them too
    const workers = await viewer.client.listWorkers();
    const [rowA, rowB] = [await workerRow(a.worker.id), await workerRow(b.worker.id)];
    expect(workers).toEqual([
      {
        name: 'list-b',
        hostname: hostname(),
        pid: process.pid,
        status: 'STOPPED',
        startedAt: rowB.started_at,
        lastHeartbeatAt: rowB.last_heartbeat_at,
        concurrency: 5,
        activeRuns: 0,
        workflows: ['Greeter@1'],
      },
      {
        name: 'list-a',
        hostname: hostname(),
        pid: process.pid,
        status: 'RUNNING',
        startedAt: rowA.started_at,
        lastHeartbeatAt: expect.any(Date),
        concurrency: 2,
        activeRuns: 1,
        workflows: rowA.workflows,
      },
    ]);
    expect([...workers[1].workflows].sort()).toEqual(['Greeter@1', 'Parcel@1']);
    expect(workers[1].startedAt).toBeInstanceOf(Date);
    parcel.release();
    await handle.result({ timeout: '5s' });
  });

  // -------------------------------------------------------------------------------------------------
  // names
  // -------------------------------------------------------------------------------------------------

  it('a name is unique among live workers: a second live worker with it fails the boot with InvalidOptionsError; a stopped holder frees it', async () => {
    const first = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'dup' } });
    const err = await rejectionOf(bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'dup' } }));
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as Error).message).toMatch(/worker\.name "dup" is in use by a live worker/);
    // the refused boot left nothing behind: one row, one STARTED event
    expect((await workerByName('dup')).map((r) => r.status)).toEqual(['RUNNING']);
    expect((await sql(db.url, `select event_type from kagzi.worker_events where worker_name = 'dup'`)).map((e) => e.event_type)).toEqual(['STARTED']);

    await first.close();
    const second = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'dup' } });
    const rows = await workerByName('dup');
    expect(rows.map((r) => [r.id, r.status])).toEqual([
      [first.worker.id, 'STOPPED'],
      [second.worker.id, 'RUNNING'],
    ]);
  });

  it('the name of a worker whose heartbeat went stale (its process died) can be reused at once: the stale row is marked LOST with an event', async () => {
    await bootKagzi({ url: db.url, providers: PROVIDERS, worker: false }); // migrates the schema; no worker to notice the ghost
    // A worker that died an hour ago and was never marked LOST (no other worker was alive to notice).
    const [ghost] = await sql<{ id: string }>(
      db.url,
      `insert into kagzi.workers (id, name, hostname, pid, status, started_at, last_heartbeat_at, concurrency, heartbeat_interval_ms, workflows, library_version)
       values (gen_random_uuid(), 'ghost', 'gone-host', 4242, 'RUNNING', now() - interval '1 hour', now() - interval '1 hour', 1, 500, '{Parcel@1}', '0.0.1')
       returning id`,
    );
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'ghost' } });

    const rows = await workerByName('ghost');
    expect(rows.map((r) => [r.id, r.status])).toEqual([
      [ghost.id, 'LOST'],
      [kagzi.worker.id, 'RUNNING'],
    ]);
    expect(rows[0].stopped_at).toBeInstanceOf(Date);
    const lost = await eventsOf(ghost.id);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ event_type: 'LOST', worker_name: 'ghost', data: { detectedBy: 'ghost' } });
    expect(new Date(String(lost[0].data?.lastHeartbeatAt)).getTime()).toBe(rows[0].last_heartbeat_at.getTime());
  });

  // -------------------------------------------------------------------------------------------------
  // drain and hand-back
  // -------------------------------------------------------------------------------------------------

  it('drain: DRAINING (event, listWorkers, health down with the reason) while the in-flight run finishes, then STOPPED', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'drainer', shutdownTimeout: '5s' } });
    const observer = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: false });
    const health = kagzi.app.get(KagziHealthIndicator); // taken before close: the container is still the same
    const parcel = hold('drain-p1');
    const handle = await kagzi.client.start(ParcelWorkflow, { parcelId: 'drain-p1' });
    await parcel.entered;
    await waitFor('a heartbeat reporting the active run', async () => (await workerRow(kagzi.worker.id)).active_runs === 1, 3_000);
    expect((await health.isHealthy()).kagzi.status).toBe('up');

    let closed = false;
    const closing = kagzi.close().then(() => (closed = true));
    await waitFor('the DRAINING event', async () => (await eventsOf(kagzi.worker.id)).some((e) => e.event_type === 'DRAINING'), 3_000);
    expect(kagzi.worker.state).toBe('DRAINING');
    const drainingHealth = (await health.isHealthy()).kagzi;
    expect(drainingHealth).toMatchObject({ status: 'down', reason: 'worker is DRAINING', state: 'DRAINING', activeRuns: 1, worker: 'drainer' });
    expect((await observer.client.listWorkers()).find((w) => w.name === 'drainer')).toMatchObject({ status: 'DRAINING', activeRuns: 1 });
    expect((await workerRow(kagzi.worker.id)).status).toBe('DRAINING');

    await delay(700); // the drain waits for the run (shutdownTimeout is 5 s)
    expect(closed).toBe(false);
    expect(await handle.status()).toBe('RUNNING');
    expect(signals.get('drain-p1')?.[0].aborted).toBe(false); // draining does not abort runs within shutdownTimeout
    const releasedAt = Date.now();
    parcel.release();
    await closing;
    expect(Date.now() - releasedAt).toBeLessThan(2_000);

    expect(await observer.client.getHandle(handle.runId).status()).toBe('COMPLETED');
    const events = await eventsOf(kagzi.worker.id);
    expect(events.map((e) => e.event_type)).toEqual(['STARTED', 'DRAINING', 'STOPPED']);
    expect(events[1].data).toEqual({ activeRuns: 1, shutdownTimeoutMs: 5_000 });
    expect(events[2].data).toEqual({ handedBack: 0 });
    expect(await workerRow(kagzi.worker.id)).toMatchObject({ status: 'STOPPED', active_runs: 0, stopped_at: expect.any(Date) });
    expect((await observer.client.listWorkers()).find((w) => w.name === 'drainer')).toMatchObject({ status: 'STOPPED', activeRuns: 0 });
    expect(kagzi.worker.state).toBe('STOPPED');
  });

  it('drain timeout: the runs still in flight are aborted and handed back (due now, lease cleared), one RUN_HANDED_BACK event each, then STOPPED', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'giver', concurrency: 2, shutdownTimeout: '300ms' } });
    const parcels = ['hb-p1', 'hb-p2'].map((id) => ({ id, ...hold(id) }));
    const handles = await Promise.all(parcels.map((p) => kagzi.client.start(ParcelWorkflow, { parcelId: p.id })));
    await Promise.all(parcels.map((p) => p.entered));

    const closedAt = Date.now();
    await kagzi.close();
    expect(Date.now() - closedAt).toBeLessThan(3_000);

    const events = await eventsOf(kagzi.worker.id);
    expect(events.map((e) => e.event_type)).toEqual(['STARTED', 'DRAINING', 'RUN_HANDED_BACK', 'RUN_HANDED_BACK', 'STOPPED']);
    expect(events[1].data).toEqual({ activeRuns: 2, shutdownTimeoutMs: 300 });
    const handedBack = events.filter((e) => e.event_type === 'RUN_HANDED_BACK');
    expect(handedBack.map((e) => e.data).sort((x, y) => String(x?.runId).localeCompare(String(y?.runId)))).toEqual(
      handles.map((h) => ({ runId: h.runId, workflow: 'Parcel' })).sort((x, y) => x.runId.localeCompare(y.runId)),
    );
    expect(handedBack.every((e) => e.worker_name === 'giver')).toBe(true);
    expect(events[4].data).toEqual({ handedBack: 2 });
    const runs = await sql(db.url, 'select status, lease_owner, due_at <= now() as due from kagzi.workflow_runs where id = any($1::uuid[])', [
      handles.map((h) => h.runId),
    ]);
    expect(runs).toEqual([
      { status: 'PENDING', lease_owner: null, due: true },
      { status: 'PENDING', lease_owner: null, due: true },
    ]);
    for (const p of parcels) expect(signals.get(p.id)?.[0].aborted).toBe(true);

    // the abandoned attempts return now; their commits are fenced off
    for (const p of parcels) p.release();
    await delay(300);
    expect(await sql(db.url, 'select 1 from kagzi.step_runs where workflow_run_id = any($1::uuid[])', [handles.map((h) => h.runId)])).toEqual([]);
    const next = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'taker' } });
    expect(await Promise.all(handles.map((h) => next.client.getHandle(h.runId).result({ timeout: '5s' })))).toEqual(['delivered:hb-p1', 'delivered:hb-p2']);
  });

  // -------------------------------------------------------------------------------------------------
  // crash detection and pruning
  // -------------------------------------------------------------------------------------------------

  it('a SIGKILLed worker process is marked LOST by a live worker once its heartbeat is 3 intervals old (not before), with a LOST event; listWorkers shows LOST', async () => {
    const watcher = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'watcher' } });
    const doomed = new FixtureWorker({ DB_URL: db.url, WORKER_NAME: 'doomed', HEARTBEAT: `${HEARTBEAT_MS}ms`, LEASE: `${LEASE_MS}ms` });
    children.add(doomed);
    await doomed.ready();
    const [before] = await workerByName('doomed');
    expect(before).toMatchObject({ status: 'RUNNING', pid: doomed.pid, heartbeat_interval_ms: HEARTBEAT_MS });
    await delay(HEARTBEAT_MS + 100); // it heartbeats like any worker
    expect((await workerByName('doomed'))[0].last_heartbeat_at.getTime()).toBeGreaterThan(before.last_heartbeat_at.getTime());

    const killedAt = doomed.kill('SIGKILL');
    expect(await doomed.exited).toMatchObject({ signal: 'SIGKILL' });
    await waitFor('the killed worker to be marked LOST', async () => (await workerByName('doomed'))[0].status === 'LOST', 8_000);
    const [lostRow] = await workerByName('doomed');
    const events = await eventsOf(lostRow.id);
    expect(events.map((e) => e.event_type)).toEqual(['STARTED', 'LOST']);
    const lost = events[1];
    expect(lost).toMatchObject({ worker_name: 'doomed', data: { detectedBy: 'watcher' } });
    const lastBeat = lostRow.last_heartbeat_at.getTime();
    expect(new Date(String(lost.data?.lastHeartbeatAt)).getTime()).toBe(lastBeat);
    console.log(
      `LOST: marked ${lost.at.getTime() - killedAt} ms after SIGKILL, ${lost.at.getTime() - lastBeat} ms after its last heartbeat ` +
        `(bound: 3 × ${HEARTBEAT_MS} ms + one tick of the watcher)`,
    );
    // not before 3 heartbeat intervals of silence ...
    expect(lost.at.getTime() - lastBeat).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS);
    // ... and by the watcher's next tick after that (+ margin for a loaded machine)
    expect(lost.at.getTime() - lastBeat).toBeLessThanOrEqual(3 * HEARTBEAT_MS + HEARTBEAT_MS + 1_000);
    expect(lostRow.stopped_at?.getTime()).toBe(lost.at.getTime());

    const listed = await watcher.client.listWorkers();
    expect(listed.map((w) => [w.name, w.status])).toEqual([
      ['doomed', 'LOST'],
      ['watcher', 'RUNNING'],
    ]);
    expect(listed[0]).toMatchObject({ pid: doomed.pid, hostname: hostname() });
  });

  it('prunes STOPPED and LOST workers and events older than `retention` on the first heartbeat of a worker; keeps recent and live ones', async () => {
    await bootKagzi({ url: db.url, providers: PROVIDERS, worker: false }); // migrates the schema
    await sql(
      db.url,
      `insert into kagzi.workers (id, name, hostname, pid, status, started_at, last_heartbeat_at, stopped_at, concurrency, heartbeat_interval_ms, workflows, library_version)
       values ('00000000-0000-4000-8000-000000000001', 'old-stopped', 'h', 1, 'STOPPED', now() - interval '3 hours', now() - interval '2 hours', now() - interval '2 hours', 1, 500, '{}', '0.0.1'),
              ('00000000-0000-4000-8000-000000000002', 'old-lost',    'h', 2, 'LOST',    now() - interval '4 hours', now() - interval '3 hours', now() - interval '3 hours', 1, 500, '{}', '0.0.1'),
              ('00000000-0000-4000-8000-000000000003', 'recent-stop', 'h', 3, 'STOPPED', now() - interval '3 hours', now() - interval '10 minutes', now() - interval '10 minutes', 1, 500, '{}', '0.0.1'),
              ('00000000-0000-4000-8000-000000000004', 'old-running', 'h', 4, 'RUNNING', now() - interval '3 hours', now() - interval '2 hours', null, 1, 500, '{}', '0.0.1')`,
    );
    await sql(
      db.url,
      `insert into kagzi.worker_events (worker_id, worker_name, event_type, data, at)
       values ('00000000-0000-4000-8000-000000000001', 'old-stopped', 'STOPPED', '{"handedBack":0}', now() - interval '2 hours'),
              ('00000000-0000-4000-8000-000000000002', 'old-lost',    'LOST',    '{}',                now() - interval '3 hours'),
              ('00000000-0000-4000-8000-000000000003', 'recent-stop', 'STARTED', '{}',                now() - interval '3 hours'),
              ('00000000-0000-4000-8000-000000000003', 'recent-stop', 'STOPPED', '{"handedBack":0}', now() - interval '10 minutes')`,
    );
    const names = async (): Promise<string[]> => (await sql<{ name: string }>(db.url, 'select name from kagzi.workers order by name')).map((r) => r.name);

    // the default retention (7 days) keeps all of them
    const keeper = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'keeper' } });
    await waitFor('old-running to be marked LOST by a heartbeat', async () => (await workerByName('old-running'))[0].status === 'LOST', 3_000);
    await delay(HEARTBEAT_MS);
    expect(await names()).toEqual(['keeper', 'old-lost', 'old-running', 'old-stopped', 'recent-stop']);
    await keeper.close();

    const pruner = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'pruner', retention: '1h' } });
    await waitFor('the old rows to be pruned', async () => !(await names()).includes('old-stopped'), 3_000);
    // keeper stopped just now and old-running was marked LOST (stopped_at) just now: both are recent
    expect(await names()).toEqual(['keeper', 'old-running', 'pruner', 'recent-stop']);
    const events = await sql<{ worker_name: string; event_type: string }>(db.url, 'select worker_name, event_type from kagzi.worker_events order by id');
    expect(events).toEqual([
      { worker_name: 'recent-stop', event_type: 'STOPPED' },
      { worker_name: 'keeper', event_type: 'STARTED' },
      { worker_name: 'old-running', event_type: 'LOST' },
      { worker_name: 'keeper', event_type: 'DRAINING' },
      { worker_name: 'keeper', event_type: 'STOPPED' },
      { worker_name: 'pruner', event_type: 'STARTED' },
    ]);
    expect(pruner.worker.state).toBe('RUNNING');
  });

  // -------------------------------------------------------------------------------------------------
  // health
  // -------------------------------------------------------------------------------------------------

  it('health: up with the details (active runs, concurrency, due backlog, unserved versions)', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: [...PROVIDERS, LedgerWorkflow], worker: { name: 'healthy', concurrency: 1, workflows: ['Parcel', 'Greeter'] } });
    // `ready` resolves as the loop starts; its first claim lands a moment later
    await waitFor('the first poll', () => kagzi.worker.snapshot().lastPollAt, 2_000);
    const idle = await healthOf(kagzi);
    expect(idle).toEqual({
      status: 'up',
      worker: 'healthy',
      state: 'RUNNING',
      activeRuns: 0,
      concurrency: 1,
      lastPollAt: expect.any(String),
      lastHeartbeatAt: expect.any(String),
      databaseMs: expect.any(Number),
      dueBacklog: 0,
      unservedVersions: [],
    });

    const parcel = hold('health-p1');
    const busy = await kagzi.client.start(ParcelWorkflow, { parcelId: 'health-p1' });
    await parcel.entered;
    const queued = await kagzi.client.start(GreeterWorkflow, { who: 'queued' }); // the only slot is taken: it waits, due
    const ledger = await kagzi.client.start(LedgerWorkflow, {}); // no live worker serves Ledger@1
    const full = await healthOf(kagzi);
    expect(full).toMatchObject({ status: 'up', activeRuns: 1, concurrency: 1, dueBacklog: 1, unservedVersions: ['Ledger@1'] });
    expect(await queued.status()).toBe('PENDING');

    parcel.release();
    expect(await busy.result({ timeout: '5s' })).toBe('delivered:health-p1');
    expect(await queued.result({ timeout: '5s' })).toBe('hello queued');
    // a finished run frees its slot just after its outcome is published
    await waitFor('the slot to be free', async () => (await healthOf(kagzi)).activeRuns === 0, 2_000);
    expect(await healthOf(kagzi)).toMatchObject({ status: 'up', activeRuns: 0, dueBacklog: 0, unservedVersions: ['Ledger@1'] });
    expect(await ledger.status()).toBe('PENDING');
  });

  it('database unreachable: health goes down with the reason, failed heartbeats are logged and retried, the held run is aborted before its lease expires; all back up when the database returns', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'cut-off' } });
    // instrumentation: every write of the run's lease, to know when the last lease before the outage expires
    await sql(
      db.url,
      `create table public.lease_audit (id bigserial primary key, run_id uuid, lease_owner text, lease_epoch int, status text, due_at timestamptz,
                                        at timestamptz not null default clock_timestamp());
       create function public.audit_lease() returns trigger language plpgsql as $$
       begin
         insert into public.lease_audit (run_id, lease_owner, lease_epoch, status, due_at) values (new.id, new.lease_owner, new.lease_epoch, new.status, new.due_at);
         return null;
       end $$;
       create trigger audit_lease after insert or update on kagzi.workflow_runs for each row execute function public.audit_lease();`,
    );
    const parcel = hold('cut-p1');
    const handle = await kagzi.client.start(ParcelWorkflow, { parcelId: 'cut-p1' });
    await parcel.entered;
    const signal = signals.get('cut-p1')![0];
    let abortedAt: number | undefined;
    signal.addEventListener('abort', () => (abortedAt = Date.now()));
    expect((await healthOf(kagzi)).status).toBe('up');
    // cut the database off just after a heartbeat renewed the lease: the worst case for the worker, whose
    // lease then runs out leaseDuration after that renewal
    const renewals = async (): Promise<number> =>
      (await sql<{ n: number }>(db.url, `select count(*)::int as n from public.lease_audit where run_id = $1 and lease_epoch = 1 and status = 'RUNNING'`, [handle.runId]))[0].n;
    const seen = await renewals();
    await waitFor('a heartbeat to renew the lease', async () => (await renewals()) > seen, 3_000, 10);

    const cutAt = Date.now();
    await withAdmin(async (admin) => {
      await admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections false`);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [db.name]);
    });
    try {
      const down = await waitFor('health down', async () => {
        const h = await healthOf(kagzi);
        return h.status === 'down' ? h : undefined;
      }, 3_000);
      expect(down.reason).toMatch(/^database unreachable: /);
      expect(down).toMatchObject({ worker: 'cut-off', state: 'RUNNING', activeRuns: 1 });

      await waitFor('the held run to be aborted locally', () => signal.aborted, 4_000);
      expect(warn.mock.calls.filter(([m]) => /heartbeat failed/.test(String(m))).length).toBeGreaterThanOrEqual(2);
      expect(String(signal.reason instanceof Error ? signal.reason.message : signal.reason)).toMatch(/could not be renewed/);
      expect((await healthOf(kagzi)).status).toBe('down');
    } finally {
      await withAdmin((admin) => admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections true`));
    }
    const restoredAt = Date.now();
    const up = await waitFor('health up again', async () => {
      const h = await healthOf(kagzi);
      return h.status === 'up' ? h : undefined;
    }, 6_000);
    console.log(`database outage: run aborted ${abortedAt! - cutAt} ms after the cut; health up ${Date.now() - restoredAt} ms after the restore`);
    expect(up).toMatchObject({ state: 'RUNNING', worker: 'cut-off' });

    // the aborted first attempt stopped before anyone else could hold the run: before its last lease ran out
    const firstLease = await sql<{ expiry: Date }>(db.url, `select max(due_at) as expiry from public.lease_audit where run_id = $1 and lease_epoch = 1`, [handle.runId]);
    console.log(`database outage: abort ${firstLease[0].expiry.getTime() - abortedAt!} ms before the lease of epoch 1 expired`);
    expect(abortedAt!).toBeLessThan(firstLease[0].expiry.getTime());
    // once the lease expired the run was claimed again (epoch 2) and finishes; the aborted attempt commits nothing
    parcel.release();
    expect(await handle.result({ timeout: '8s' })).toBe('delivered:cut-p1');
    expect(executions.get('Courier.deliver', 'cut-p1')).toBe(2);
    expect((await sql(db.url, 'select step_key from kagzi.step_runs where workflow_run_id = $1', [handle.runId])).length).toBe(1);
  });

  it('a heartbeat that hangs (the registry locked) cannot renew the lease: the worker stops the run locally before a new owner claims it', async () => {
    const stuck = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'stuck' } });
    const parcel = hold('hang-p1');
    const handle = await stuck.client.start(ParcelWorkflow, { parcelId: 'hang-p1' });
    await parcel.entered;
    const firstSignal = signals.get('hang-p1')![0];
    let abortedAt: number | undefined;
    firstSignal.addEventListener('abort', () => (abortedAt = Date.now()));
    // A second worker that could take the run over once its lease expires (rare heartbeats of its own).
    const rescuer = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'rescuer', leaseDuration: '6s', heartbeatInterval: '2s' } });

    // Lock the registry against writes (reads go on): every heartbeat statement (it writes the worker's row and renews
    // the leases in one statement) now waits for the lock before it touches any run, neither failing nor succeeding,
    // as it would on a stalled connection. Claims do not touch kagzi.workers: the rescuer claims as usual.
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    let lockedAt = 0;
    try {
      await locker.query('begin');
      await waitFor('a heartbeat to complete', async () => Date.now() - (stuck.worker.snapshot().lastHeartbeatAt?.getTime() ?? 0) < 100, 2_000, 10);
      await locker.query('lock table kagzi.workers in share mode');
      lockedAt = Date.now();
      await waitFor('the rescuer to claim the run after the lease expired', () => executions.get('Courier.deliver', 'hang-p1') >= 2, 6_000);
      const takenOverAt = Date.now();
      console.log(
        `hung heartbeat: rescuer took the run ${takenOverAt - lockedAt} ms after the lock; stuck's run ` +
          (abortedAt ? `was aborted ${takenOverAt - abortedAt} ms before that` : 'was still executing (not aborted)'),
      );
      const [owner] = await sql<{ lease_owner: string; lease_epoch: number }>(db.url, 'select lease_owner, lease_epoch from kagzi.workflow_runs where id = $1', [handle.runId]);
      expect(owner).toEqual({ lease_owner: 'rescuer', lease_epoch: 2 });
      // the old owner had already stopped: the two never executed the run at the same time
      expect(firstSignal.aborted).toBe(true);
      expect(abortedAt).toBeLessThan(takenOverAt);
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await locker.end();
    }
    parcel.release();
    expect(await rescuer.client.getHandle(handle.runId).result({ timeout: '5s' })).toBe('delivered:hang-p1');
  });

  it('deaf worker: health goes down while runs are due and its claims keep failing (heartbeats fine), and up again once claiming works', async () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'deaf' } });
    expect((await healthOf(kagzi)).status).toBe('up');
    // Every claim (PENDING -> RUNNING) fails; heartbeats (RUNNING -> RUNNING lease renewals) and reads do not.
    await sql(
      db.url,
      `create function public.refuse_claims() returns trigger language plpgsql as $$ begin raise exception 'claims refused by the test'; end $$;
       create trigger refuse_claims before update on kagzi.workflow_runs for each row
         when (new.status = 'RUNNING' and old.status <> 'RUNNING') execute function public.refuse_claims();`,
    );
    const handle = await kagzi.client.start(GreeterWorkflow, { who: 'deaf' });
    const startedAt = Date.now();
    const down = await waitFor('health down for a deaf worker', async () => {
      const h = await healthOf(kagzi);
      return h.status === 'down' ? h : undefined;
    }, 5_000);
    console.log(`deaf worker: health down ${Date.now() - startedAt} ms after the run became due (${down.reason})`);
    expect(down.reason).toMatch(/^worker loop has not run for \d+ ms while 1 run\(s\) are due$/);
    expect(down).toMatchObject({ state: 'RUNNING', dueBacklog: 1, activeRuns: 0 });
    // not before 3 poll intervals + 1 s without a successful poll (the last one was at most one interval before the start)
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3 * POLL_MS + 1_000 - POLL_MS - 100);
    expect(error.mock.calls.some(([m]) => /claiming failed.*claims refused by the test/.test(String(m)))).toBe(true);
    expect(await handle.status()).toBe('PENDING');

    await sql(db.url, 'drop trigger refuse_claims on kagzi.workflow_runs');
    expect(await handle.result({ timeout: '5s' })).toBe('hello deaf');
    await waitForStatus(handle, 'COMPLETED');
    expect(await healthOf(kagzi)).toMatchObject({ status: 'up', dueBacklog: 0 });
  });
  it('lease = 2.5 x heartbeat is the boundary: accepted, and a step longer than the lease is not aborted; just below it, boot fails', async () => {
    const refused = await rejectionOf(bootKagzi({ url: db.url, providers: PROVIDERS, worker: { leaseDuration: '4s', heartbeatInterval: '2s' } }));
    expect(refused).toBeInstanceOf(InvalidOptionsError);
    expect(String((refused as Error).message)).toMatch(/leaseDuration \(4000 ms\) must be at least 2\.5 x worker\.heartbeatInterval \(2000 ms\)/);

    const warn = jest.spyOn(Logger.prototype, 'warn');
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'boundary', leaseDuration: '5s', heartbeatInterval: '2s' } });
    const parcel = hold('long-p1');
    const handle = await kagzi.client.start(ParcelWorkflow, { parcelId: 'long-p1' });
    await parcel.entered;
    await delay(6_000); // three heartbeats, and longer than the lease
    expect(signals.get('long-p1')![0].aborted).toBe(false);
    parcel.release();
    expect(await handle.result({ timeout: '5s' })).toBe('delivered:long-p1');
    expect(executions.get('Courier.deliver', 'long-p1')).toBe(1);
    expect(warn.mock.calls.filter(([m]) => /could not be renewed/.test(String(m)))).toEqual([]);
  });

  it('a database blip while a step commits: the worker retries the commit in place and the run goes on at once, the body ran once', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'blip', leaseDuration: '5s', heartbeatInterval: '2s' } });
    const parcel = hold('blip-p1');
    const handle = await kagzi.client.start(ParcelWorkflow, { parcelId: 'blip-p1' });
    await parcel.entered;
    await withAdmin(async (admin) => {
      await admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections false`);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [db.name]);
    });
    let restoredAt = 0;
    try {
      parcel.release(); // the body returns while the database is unreachable: its commit fails
      await delay(1_500);
    } finally {
      await withAdmin((admin) => admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections true`));
      restoredAt = Date.now();
    }
    expect(await handle.result({ timeout: '4s' })).toBe('delivered:blip-p1');
    const recoveredIn = Date.now() - restoredAt;
    console.log(`database blip of 1.5 s during a step commit: run completed ${recoveredIn} ms after the database returned`);
    expect(recoveredIn).toBeLessThan(2_000); // not after the 5 s lease expired
    expect(executions.get('Courier.deliver', 'blip-p1')).toBe(1);
    const [run] = await sql<{ lease_epoch: number }>(db.url, 'select lease_epoch from kagzi.workflow_runs where id = $1', [handle.runId]);
    expect(run.lease_epoch).toBe(1); // never claimed again
    expect(error.mock.calls.filter(([m]) => /execution failed unexpectedly|database error while/.test(String(m)))).toEqual([]);
  });
  it('at the boundary (lease 2.5 s, heartbeat 1 s) a run survives a failed heartbeat: not stopped, its step body ran once', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: { name: 'edge', leaseDuration: '2500ms', heartbeatInterval: '1s' } });
    const parcel = hold('edge-p1');
    const handle = await kagzi.client.start(ParcelWorkflow, { parcelId: 'edge-p1' });
    await parcel.entered;
    const heartbeats = async (): Promise<number> => (await sql<{ at: Date }>(db.url, "select last_heartbeat_at as at from kagzi.workers where name = 'edge'"))[0].at.getTime();
    const seen = await heartbeats();
    await waitFor('a heartbeat', async () => (await heartbeats()) > seen, 3_000, 10);
    await delay(700); // the next tick comes 300 ms into the outage
    await withAdmin(async (admin) => {
      await admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections false`);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [db.name]);
    });
    try {
      await delay(700);
    } finally {
      await withAdmin((admin) => admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections true`));
    }
    await delay(2_500); // past the lease the failed heartbeat would have renewed
    expect(warn.mock.calls.filter(([m]) => /heartbeat failed/.test(String(m))).length).toBeGreaterThanOrEqual(1);
    expect(signals.get('edge-p1')![0].aborted).toBe(false);
    parcel.release();
    expect(await handle.result({ timeout: '5s' })).toBe('delivered:edge-p1');
    expect(executions.get('Courier.deliver', 'edge-p1')).toBe(1);
  });
});
