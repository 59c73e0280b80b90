/**
 * Database outages seen from the client and from boot: calls made while the database refuses connections
 * wait for it (bounded by `reconnectTimeout`), a retried start() never inserts a second run, and a module
 * that boots while its database is unreachable retries the connection (`retryAttempts` / `retryDelay`).
 *
 * The outage is real but confined to this file's database: `allow_connections false` plus
 * pg_terminate_backend for its sessions, then `allow_connections true` (the shared server stays up).
 * PostgreSQL then refuses new sessions with SQLSTATE 55000 "database … is not currently accepting
 * connections" and the terminated ones fail with 57P01 or "Connection terminated unexpectedly".
 */
import { Injectable, Logger } from '@nestjs/common';
import { Client } from 'pg';
import { DatabaseUnavailableError, RunNotFoundError, Step, Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { isConnectionFailure } from '../libs/kagzi/src/persistence/connection-failure';
import { RunStore } from '../libs/kagzi/src/persistence/run.store';
import { adminUrl, createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, delay, rejectionOf, sql } from './support/app';

@Injectable()
class Mailer {
  @Step({ name: 'Mailer.send' })
  async send(to: string): Promise<string> {
    return `sent:${to}`;
  }
}

@Workflow({ name: 'Welcome' })
class WelcomeWorkflow implements WorkflowDefinition<{ to: string }, string> {
  constructor(private readonly mailer: Mailer) {}

  run(input: { to: string }): Promise<string> {
    return this.mailer.send(input.to);
  }
}

const PROVIDERS = [Mailer, WelcomeWorkflow];

async function withAdmin<T>(work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

/** The outage: no new sessions for this database, and every open one is cut. */
function cutOff(db: TestDatabase): Promise<void> {
  return withAdmin(async (admin) => {
    await admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections false`);
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [db.name]);
  });
}

function restore(db: TestDatabase): Promise<void> {
  return withAdmin(async (admin) => {
    await admin.query(`alter database ${admin.escapeIdentifier(db.name)} allow_connections true`);
  });
}

async function runsIn(db: TestDatabase): Promise<Array<{ id: string; workflow_name: string }>> {
  return sql<{ id: string; workflow_name: string }>(db.url, 'select id, workflow_name from kagzi.workflow_runs order by created_at');
}

describe('database outages', () => {
  const databases: TestDatabase[] = [];
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('outages');
    databases.push(db);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await closeAllApps();
    await restore(db).catch(() => undefined);
  });

  afterAll(async () => {
    await Promise.all(databases.map((d) => d.drop().catch(() => undefined)));
  });

  it('client calls made during a 1.5 s outage succeed once the database is back; start() inserts exactly one run', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: false });
    const before = await kagzi.client.start(WelcomeWorkflow, { to: 'before@example.com' });

    await cutOff(db);
    const cutAt = Date.now();
    const starting = kagzi.client.start(WelcomeWorkflow, { to: 'during@example.com' });
    const reads = Promise.all([
      before.status(),
      kagzi.client.getRun(before.runId),
      kagzi.client.listRuns(),
      kagzi.client.countWorkflows({ name: 'Welcome' }),
      kagzi.client.listVersions('Welcome'),
      kagzi.client.listWorkers(),
    ]);
    let settledEarly = false;
    void Promise.allSettled([starting, reads]).then(() => (settledEarly = Date.now() - cutAt < 1_400));
    await delay(1_500);
    await restore(db);

    const handle = await starting;
    const [status, details, page, count, versions, workers] = await reads;
    expect(settledEarly).toBe(false);
    expect(Date.now() - cutAt).toBeGreaterThanOrEqual(1_500);
    expect(status).toBe('PENDING');
    expect(details.runId).toBe(before.runId);
    // these reads and the start() all waited for the same reconnect: either may have run first
    expect(page.items.map((r) => r.runId)).toContain(before.runId);
    expect([1, 2]).toContain(count);
    expect(versions.map((v) => v.version)).toEqual([1]);
    expect(workers).toEqual([]);

    const runs = await runsIn(db);
    expect(runs.map((r) => r.id).sort()).toEqual([before.runId, handle.runId].sort());
    expect(await handle.status()).toBe('PENDING');
    await kagzi.client.cancel(handle.runId, 'test done');
    expect(await handle.status()).toBe('CANCELLED');
  });

  it('start() whose first insert committed but whose reply was lost returns that run and inserts no second one', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: false });
    const insertRun = RunStore.prototype.insertRun;
    let calls = 0;
    // The insert reaches the database and commits; only the reply is lost, as when the server dies right after the commit.
    jest.spyOn(RunStore.prototype, 'insertRun').mockImplementation(async function (this: RunStore, run) {
      const result = await insertRun.call(this, run);
      if (++calls === 1) throw new Error('Connection terminated unexpectedly');
      return result;
    });

    const handle = await kagzi.client.start(WelcomeWorkflow, { to: 'once@example.com' });
    const keyed = await kagzi.client.start(WelcomeWorkflow, { to: 'keyed@example.com' }, { idempotencyKey: 'welcome-keyed' });

    expect(calls).toBe(3); // lost reply, retry that found the run by id, the keyed start
    const runs = await runsIn(db);
    expect(runs.map((r) => r.id).sort()).toEqual([handle.runId, keyed.runId].sort());
  });

  it('a call during an outage longer than reconnectTimeout rejects with DatabaseUnavailableError, carrying the connection error as cause', async () => {
    const kagzi = await bootKagzi({ url: db.url, providers: PROVIDERS, worker: false, reconnectTimeout: '600ms' });
    const before = await kagzi.client.start(WelcomeWorkflow, { to: 'before@example.com' });
    await cutOff(db);

    const startedAt = Date.now();
    const err = await rejectionOf(kagzi.client.start(WelcomeWorkflow, { to: 'lost@example.com' }));
    const elapsed = Date.now() - startedAt;
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    const unavailable = err as DatabaseUnavailableError;
    expect(unavailable.code).toBe('KAGZI_DATABASE_UNAVAILABLE');
    expect(unavailable.message).toMatch(/^start\(\) of workflow "Welcome" \(run id [0-9a-f-]{36}\): the database was unreachable for \d+ ms \(\d+ attempts, reconnectTimeout 600 ms\)/);
    expect((unavailable.cause as { code?: string }).code).toBe('55000');
    expect(unavailable.message).toMatch(/not currently accepting connections/);
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThan(3_000);

    const statusErr = await rejectionOf(before.status());
    expect(statusErr).toBeInstanceOf(DatabaseUnavailableError);

    await restore(db);
    expect(await before.status()).toBe('PENDING');
    expect((await runsIn(db)).map((r) => r.id)).toEqual([before.runId]);
  });

  it('a worker booting while its database refuses connections retries, logs each attempt, and boots once connections are allowed', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    await cutOff(db);
    const bootedAt = Date.now();
    const booting = bootKagzi({ url: db.url, providers: PROVIDERS, retryAttempts: 30, retryDelay: '200ms' });
    await delay(1_000);
    await restore(db);

    const kagzi = await booting;
    expect(Date.now() - bootedAt).toBeGreaterThanOrEqual(1_000);
    const attempts = logged.mock.calls.map(([m]) => String(m)).filter((m) => m.startsWith('Unable to connect to the database'));
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(attempts[0]).toMatch(/^Unable to connect to the database \(attempt 1\/31\), retrying in 200 ms: database ".*" is not currently accepting connections/);
    expect(attempts[1]).toMatch(/\(attempt 2\/31\)/);

    await kagzi.worker.ready;
    const handle = await kagzi.client.start(WelcomeWorkflow, { to: 'booted@example.com' });
    expect(await handle.result({ timeout: '10s' })).toBe('sent:booted@example.com');
  });

  it('a boot that uses up retryAttempts fails with DatabaseUnavailableError; a missing database fails at once', async () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    await cutOff(db);
    const startedAt = Date.now();
    const err = await rejectionOf(bootKagzi({ url: db.url, providers: PROVIDERS, retryAttempts: 2, retryDelay: '100ms' }));
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect((err as DatabaseUnavailableError).message).toMatch(/^Unable to connect to the database after 3 attempts in \d+ s: database ".*" is not currently accepting connections/);
    expect(((err as DatabaseUnavailableError).cause as { code?: string }).code).toBe('55000');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(200);

    // A database that does not exist is a configuration error: no retrying for retryAttempts x retryDelay.
    const missing = new URL(db.url);
    missing.pathname = `/${db.name}_missing`;
    const missingAt = Date.now();
    const missingErr = await rejectionOf(bootKagzi({ url: missing.toString(), providers: PROVIDERS, retryAttempts: 9, retryDelay: '3s' }));
    expect(missingErr).not.toBeInstanceOf(DatabaseUnavailableError);
    expect((missingErr as { code?: string }).code).toBe('3D000');
    expect(Date.now() - missingAt).toBeLessThan(3_000);
  });

  it('rejects malformed connection options at boot', async () => {
    await expect(bootKagzi({ url: db.url, worker: false, retryAttempts: -1 })).rejects.toThrow(/options\.retryAttempts/);
    await expect(bootKagzi({ url: db.url, worker: false, reconnectTimeout: 'soon' as '1s' })).rejects.toThrow(/reconnectTimeout/);
  });

  it('retries only connection failures: what pg raises when the server is down, restarting or closed to sessions, not statement or configuration errors', () => {
    const pgError = (code: string, message: string): Error => Object.assign(new Error(message), { code, severity: 'FATAL' });
    const retried = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5433'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P03', 'the database system is starting up'),
      pgError('08006', 'connection failure'),
      pgError('53300', 'sorry, too many clients already'),
      pgError('55000', 'database "orders" is not currently accepting connections'),
      new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })], ''),
      Object.assign(new Error('Query failed'), { driverError: pgError('57P01', 'terminating connection due to administrator command') }),
    ];
    const answered = [
      pgError('3D000', 'database "orders" does not exist'),
      pgError('28P01', 'password authentication failed for user "app"'),
      pgError('55000', 'currval of sequence "s" is not yet defined in this session'),
      pgError('23505', 'duplicate key value violates unique constraint "workflow_runs_pkey"'),
      new RunNotFoundError('No workflow run has id x'),
      new DatabaseUnavailableError('gave up', { cause: pgError('57P01', 'terminating connection due to administrator command') }),
      new Error('Cannot use a pool after calling end on the pool'),
    ];
    expect(retried.filter((e) => !isConnectionFailure(e)).map((e) => e.message)).toEqual([]);
    expect(answered.filter((e) => isConnectionFailure(e)).map((e) => e.message)).toEqual([]);
  });
});
