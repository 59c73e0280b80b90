/**
 * Multi-process guarantees: real worker processes (test/fixtures/worker-process.ts) on one real PostgreSQL
 * database, killed with SIGKILL, drained with SIGTERM, and racing each other.
 *
 * Side effects are counted durably: every fixture step body inserts a row into public.test_effects when it
 * starts, so an attempt that dies mid-step still counts. Ownership is observed with an AFTER trigger on
 * kagzi.workflow_runs that copies every insert/update (status, owner, epoch, due_at, clock time) into
 * public.run_audit: instrumentation only, the engine's statements are unchanged.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { DynamicModule, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Pool } from 'pg';
import { Duration, ErrorKind, KagziModule, WorkflowClient, WorkflowFailedError, WorkflowHandle } from '@kagzi/nestjs';
import { createTestDatabase, TestDatabase } from './support/database';
import type { AwaitGoOutput, ParentOfChildOutput } from './fixtures/fixture-workflows';

const ROOT = join(__dirname, '..');
const FIXTURE = join(__dirname, 'fixtures', 'worker-process.ts');
const WAIT_MS = 20_000;
const LEASE_MS = 2_000;
const POLL_MS = 100;

interface FixtureEvent {
  event: string;
  t: number;
  [key: string]: unknown;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** One fixture process: its JSON events, its raw output (for failure messages) and its exit. */
class FixtureProcess {
  readonly events: FixtureEvent[] = [];
  output = '';
  readonly exited: Promise<Exit>;
  exit?: Exit;
  private readonly child: ChildProcess;
  private pending = '';
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly label: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin?.on('error', () => undefined);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        this.notify();
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  kill(signal: NodeJS.Signals): number {
    const at = Date.now();
    this.child.kill(signal);
    return at;
  }

  /** Resolves with the first event (already seen or future) matching `match`; fails on exit or timeout. */
  waitFor(what: string, match: (e: FixtureEvent) => boolean, timeoutMs = WAIT_MS): Promise<FixtureEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(() => reject(this.failure(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
      const check = (): void => {
        const found = this.events.find(match);
        if (found) return done(() => resolve(found));
        if (this.exit) done(() => reject(this.failure(`exited (${this.exit?.code ?? this.exit?.signal}) while waiting for ${what}`)));
      };
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        fn();
      };
      this.listeners.add(check);
      check();
    });
  }

  waitForReady(): Promise<FixtureEvent> {
    return this.waitFor('ready', (e) => e.event === 'ready');
  }

  waitForStep(runId: string, step: string, event: 'step' | 'stepEnd' = 'step'): Promise<FixtureEvent> {
    return this.waitFor(`${event} "${step}" of run ${runId}`, (e) => e.event === event && e.runId === runId && e.step === step);
  }

  async waitForExit(timeoutMs = WAIT_MS): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.failure(`did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async forceStop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  failure(message: string): Error {
    return new Error(`fixture ${this.label} (pid ${this.pid}) ${message}\n--- its output (tail) ---\n${this.output.slice(-6000)}`);
  }

  private onStdout(chunk: string): void {
    this.output += chunk;
    this.pending += chunk;
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl).trim();
      this.pending = this.pending.slice(nl + 1);
      if (!line.startsWith('{"event"')) continue;
      try {
        this.events.push(JSON.parse(line) as FixtureEvent);
      } catch {
        // a log line that happens to look like JSON: ignore
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

interface AuditRow {
  status: string;
  lease_owner: string | null;
  lease_epoch: number;
  due_at: Date | null;
  at: Date;
}

describe('Kagzi across processes (real PostgreSQL, real worker processes)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let app: INestApplicationContext;
  let client: WorkflowClient;
  const children = new Set<FixtureProcess>();

  function startWorker(label: string, env: Record<string, string> = {}): FixtureProcess {
    const child = new FixtureProcess(label, { DB_URL: db.url, WORKER_NAME: label, ...env });
    children.add(child);
    return child;
  }

  async function waitUntil(condition: () => Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; !(await condition()); ) {
      if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function effects(runId: string): Promise<Array<{ step: string; worker: string }>> {
    const { rows } = await pool.query('select step, worker from test_effects where run_id = $1 order by at, step', [runId]);
    return rows;
  }

  async function effectCounts(runId: string): Promise<Record<string, string[]>> {
    const counts: Record<string, string[]> = {};
    for (const { step, worker } of await effects(runId)) (counts[step] ??= []).push(worker);
    return counts;
  }

  async function stepRows(runId: string): Promise<Array<{ step_key: string; status: string; n: number }>> {
    const { rows } = await pool.query(
      'select step_key, status, count(*)::int as n from kagzi.step_runs where workflow_run_id = $1 group by step_key, status order by step_key',
      [runId],
    );
    return rows;
  }

  async function audit(runId: string): Promise<AuditRow[]> {
    const { rows } = await pool.query('select status, lease_owner, lease_epoch, due_at, at from run_audit where run_id = $1 order by id', [runId]);
    return rows;
  }

  /** What the database looks like for one run, for a failure message: the row, its history, sessions and locks. */
  async function diagnose(runId: string): Promise<string> {
    const q = async (sql: string, values: unknown[] = []): Promise<string> =>
      JSON.stringify((await pool.query(sql, values)).rows, null, 1);
    return [
      `run: ${await q('select status, lease_owner, lease_epoch, due_at, now() as now from kagzi.workflow_runs where id = $1', [runId])}`,
      `audit: ${await q('select status, lease_owner, lease_epoch, due_at, at from run_audit where run_id = $1 order by id', [runId])}`,
      `effects: ${await q('select step, worker, at from test_effects where run_id = $1 order by at', [runId])}`,
      `steps: ${await q('select step_key, status, started_at, completed_at from kagzi.step_runs where workflow_run_id = $1 order by id', [runId])}`,
      `sessions: ${await q(
        `select pid, application_name, state, backend_xid, xact_start, wait_event_type, left(query, 120) as query
         from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() order by xact_start nulls last`,
      )}`,
      `row locks on workflow_runs: ${await q(
        `select l.pid, l.mode, l.granted from pg_locks l join pg_class c on c.oid = l.relation
         where c.relname = 'workflow_runs' and l.pid <> pg_backend_pid()`,
      )}`,
    ].join('\n');
  }

  async function completedCount(handles: Array<WorkflowHandle<unknown>>): Promise<number> {
    const { rows } = await pool.query(
      `select count(*)::int as n from kagzi.workflow_runs where id = any($1::uuid[]) and status = 'COMPLETED'`,
      [handles.map((h) => h.runId)],
    );
    return rows[0].n;
  }

  /** Every handle's result; if some run does not finish in time, fails with what the database and the workers say. */
  async function resultsOf<O>(handles: Array<WorkflowHandle<O>>, workers: FixtureProcess[], timeout: Duration = '25s'): Promise<O[]> {
    const settled = await Promise.allSettled(handles.map((h) => h.result({ timeout })));
    const failed = handles.filter((_, i) => settled[i].status === 'rejected');
    if (failed.length === 0) return settled.map((r) => (r as PromiseFulfilledResult<O>).value);
    const reasons = [...new Set(settled.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : [])))].slice(0, 3);
    const details = await Promise.all(failed.slice(0, 3).map(async (h) => `run ${h.runId}:\n${await diagnose(h.runId)}`));
    const logs = workers.map((w) => `${w.label}: ${w.output.split('\n').filter((l) => /WARN|ERROR|"error"/.test(l)).slice(-15).join('\n')}`);
    throw new Error(
      `${failed.length} of ${handles.length} runs did not complete (${reasons.join('; ')})\n${details.join('\n')}\n--- worker warnings ---\n${logs.join('\n')}`,
    );
  }

  async function runStatus(runId: string): Promise<string | undefined> {
    return (await pool.query('select status from kagzi.workflow_runs where id = $1', [runId])).rows[0]?.status;
  }

  /** A run's signals in the order they were stored (payload unwrapped from superjson's `{ json }`), with who consumed them (the wait's step key) and when. */
  async function signalRows(runId: string): Promise<Array<{ id: string; name: string; payload: unknown; consumed_at: Date | null; consumed_by: string | null }>> {
    const { rows } = await pool.query("select id, name, payload -> 'json' as payload, consumed_at, consumed_by from kagzi.signals where workflow_run_id = $1 order by id", [runId]);
    return rows;
  }

  /** A run's recorded signal waits (step rows of kind SIGNAL), output unwrapped like signalRows' payload. */
  async function signalSteps(runId: string): Promise<Array<{ step_key: string; step_name: string; status: string; output: unknown }>> {
    const { rows } = await pool.query(
      `select step_key, step_name, status, output -> 'json' as output from kagzi.step_runs where workflow_run_id = $1 and kind = 'SIGNAL' order by step_key`,
      [runId],
    );
    return rows;
  }

  /** The claims of a run, in order: the audit rows where the epoch went up. */
  function claims(rows: AuditRow[]): AuditRow[] {
    return rows.filter((r, i) => r.status === 'RUNNING' && (i === 0 || r.lease_epoch !== rows[i - 1].lease_epoch));
  }

  beforeAll(async () => {
    db = await createTestDatabase('processes');
    pool = new Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined); // an idle client terminated by the server must not crash the suite
    class ClientAppModule {}
    const module: DynamicModule = { module: ClientAppModule, imports: [KagziModule.forRoot({ database: { url: db.url }, worker: false })] };
    app = await NestFactory.createApplicationContext(module, { logger: ['error', 'warn'] });
    client = app.get(WorkflowClient);
    // The client app ran the migrations; now the instrumentation.
    await pool.query(`
      create table test_effects (run_id uuid not null, step text not null, worker text not null, detail text,
                                 at timestamptz not null default clock_timestamp());
      create table run_audit (id bigserial primary key, run_id uuid not null, status text not null, lease_owner text,
                              lease_epoch int not null, due_at timestamptz, at timestamptz not null default clock_timestamp());
      create function audit_run() returns trigger language plpgsql as $$
      begin
        insert into public.run_audit (run_id, status, lease_owner, lease_epoch, due_at)
        values (new.id, new.status, new.lease_owner, new.lease_epoch, new.due_at);
        return new;
      end $$;
      create trigger run_audit after insert or update on kagzi.workflow_runs for each row execute function audit_run();
    `);
  });

  afterEach(async () => {
    await Promise.all([...children].map((c) => c.forceStop()));
    children.clear();
    // A failed test must not leave live runs for the next test's workers.
    await pool.query(
      `update kagzi.workflow_runs set status = 'CANCELLED', due_at = null, lease_owner = null, completed_at = now(), updated_at = now()
       where status in ('PENDING', 'RUNNING', 'SLEEPING', 'WAITING')`,
    );
  });

  afterAll(async () => {
    await Promise.all([...children].map((c) => c.forceStop()));
    await app?.close();
    await pool?.end();
    await db?.drop();
  });

  it('SIGKILL mid-step: a process started after the kill resumes from the last committed step once the lease expires', async () => {
    const a = startWorker('kill-A', { STEP_DELAYS: JSON.stringify({ two: 3_000 }) });
    await a.waitForReady();
    const handle = await client.start('ThreeStep', { tag: 'sigkill' });
    await a.waitForStep(handle.runId, 'two');
    const [leaseBeforeKill] = (await pool.query('select lease_owner, lease_epoch from kagzi.workflow_runs where id = $1', [handle.runId])).rows;
    expect(leaseBeforeKill).toEqual({ lease_owner: 'kill-A', lease_epoch: 1 });

    const killedAt = a.kill('SIGKILL');
    expect(await a.waitForExit()).toMatchObject({ signal: 'SIGKILL' });
    expect(a.events.some((e) => e.event === 'stepEnd' && e.runId === handle.runId && e.step === 'two')).toBe(false);
    const b = startWorker('kill-B', { STEP_DELAYS: JSON.stringify({ two: 3_000 }) });
    const ready = await b.waitForReady();

    const resumed = await b.waitForStep(handle.runId, 'two');
    const result = await handle.result({ timeout: '20s' });
    const completedMs = Date.now() - killedAt;
    const pickupMs = resumed.t - killedAt;
    console.log(
      `SIGKILL: B ready ${ready.t - killedAt} ms after the kill, resumed step two ${pickupMs} ms after it, run completed ${completedMs} ms after it`,
    );

    // step one replayed from A's stored output; two and three executed by B
    expect(result).toEqual({ one: 'kill-A', two: 'kill-B', three: 'kill-B' });
    expect(await effectCounts(handle.runId)).toEqual({ one: ['kill-A'], two: ['kill-A', 'kill-B'], three: ['kill-B'] });
    expect(await stepRows(handle.runId)).toEqual([
      { step_key: 'ThreeStepWorkflow.one#1', status: 'COMPLETED', n: 1 },
      { step_key: 'ThreeStepWorkflow.three#1', status: 'COMPLETED', n: 1 },
      { step_key: 'ThreeStepWorkflow.two#1', status: 'COMPLETED', n: 1 },
    ]);
    // Picked up within leaseDuration + pollInterval (+ margin for a busy 2-core machine) of the kill ...
    expect(pickupMs).toBeLessThanOrEqual(Math.max(LEASE_MS, ready.t - killedAt) + POLL_MS + 1_000);
    expect(completedMs).toBeLessThan(12_000); // lease + boot + three steps of which one is 3 s, on a loaded 2-core machine
    // ... but not before A's lease had expired: two claims, epochs 1 (A) and 2 (B), B's after A's last due_at.
    const rows = await audit(handle.runId);
    const runClaims = claims(rows);
    expect(runClaims.map((c) => [c.lease_owner, c.lease_epoch])).toEqual([
      ['kill-A', 1],
      ['kill-B', 2],
    ]);
    const leaseOfA = Math.max(...rows.filter((r) => r.lease_owner === 'kill-A').map((r) => r.due_at!.getTime()));
    expect(runClaims[1].at.getTime()).toBeGreaterThanOrEqual(leaseOfA);
  });

  it('SIGKILL during a retry back-off: the next worker continues the attempt count and honours the wait', async () => {
    const a = startWorker('backoff-A');
    await a.waitForReady();
    const handle = await client.start('Flaky', {});
    await a.waitForStep(handle.runId, 'charge');
    await waitUntil(async () => (await pool.query(`select status from kagzi.workflow_runs where id = $1`, [handle.runId])).rows[0]?.status === 'SLEEPING');
    a.kill('SIGKILL');
    await a.waitForExit();
    const b = startWorker('backoff-B');
    await b.waitForReady();

    const error = await handle.result({ timeout: '20s' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).error).toMatchObject({ kind: ErrorKind.Unknown, code: 'GATEWAY_DOWN', attempt: 4 });
    // 4 executions in all, the first by A; numbered 1..4 with no attempt counted twice or lost to the kill
    const ran = await effects(handle.runId);
    expect(ran).toHaveLength(4);
    expect(ran[0].worker).toBe('backoff-A');
    expect(ran.slice(1).every((e) => e.worker === 'backoff-B')).toBe(true);
    const attempts = (
      await pool.query(`select attempt, started_at, finished_at from kagzi.step_attempts where workflow_run_id = $1 order by attempt`, [handle.runId])
    ).rows as Array<{ attempt: number; started_at: Date; finished_at: Date }>;
    expect(attempts.map((r) => r.attempt)).toEqual([1, 2, 3, 4]);
    for (let i = 1; i < attempts.length; i++) {
      // the back-off (1.5 s) was kept across the kill: no attempt started early. finished_at is the
      // database's time of the retry record, written after the back-off was reckoned from the attempt's
      // end, so on a loaded machine it trails by that statement's latency; an attempt that ignored the
      // back-off would start within milliseconds.
      expect(attempts[i].started_at.getTime() - attempts[i - 1].finished_at.getTime()).toBeGreaterThanOrEqual(1_300);
    }
  });

  it('SIGKILL in the middle of a parallel group: finished branches are never re-run, the interrupted one resumes', async () => {
    const a = startWorker('fan-A', { STEP_DELAYS: JSON.stringify({ slow: 3_000 }) });
    await a.waitForReady();
    const handle = await client.start('Fanout', {});
    await a.waitForStep(handle.runId, 'slow');
    await a.waitForStep(handle.runId, 'quick', 'stepEnd');
    await a.waitForStep(handle.runId, 'b', 'stepEnd');
    // the quick branches have committed before the kill
    await waitUntil(async () => (await stepRows(handle.runId)).length === 3);
    a.kill('SIGKILL');
    await a.waitForExit();
    startWorker('fan-B', { STEP_DELAYS: JSON.stringify({ slow: 100 }) });

    const result = await handle.result({ timeout: '20s' });
    expect(result).toEqual({ quick: 'fan-A', slow: 'fan-B', a: 'fan-A', b: 'fan-A', after: 'fan-B' });
    expect(await effectCounts(handle.runId)).toEqual({
      quick: ['fan-A'],
      slow: ['fan-A', 'fan-B'],
      a: ['fan-A'],
      b: ['fan-A'],
      after: ['fan-B'],
    });
    expect((await stepRows(handle.runId)).map((r) => [r.step_key, r.n]).sort()).toEqual([
      ['$parallel#1[0]/FanoutWorkflow.part#1', 1],
      ['$parallel#1[1]/FanoutWorkflow.part#1', 1],
      ['$parallel#1[2]/FanoutWorkflow.part#1', 1],
      ['$parallel#1[2]/FanoutWorkflow.part#2', 1],
      ['FanoutWorkflow.part#1', 1],
    ]);
  });

  it('SIGKILL right after a signal was consumed: another worker resumes, the workflow sees the same payload, the signal was consumed exactly once', async () => {
    const a = startWorker('signal-A', { STEP_DELAYS: JSON.stringify({ 'after-go-1': 30_000 }) });
    await a.waitForReady();
    const handle = await client.start<{ signals: number }, AwaitGoOutput>('AwaitGo', { signals: 1 });
    // parked on its wait (slot freed) before the signal comes: the signal wakes it
    await waitUntil(async () => (await runStatus(handle.runId)) === 'WAITING');
    const payload = { order: 'ord-7', amount: 42 };
    await client.signal(handle.runId, 'go', payload);
    const started = await a.waitForStep(handle.runId, 'after-go-1');
    expect(JSON.parse(started.detail as string)).toEqual(payload);
    // the step body runs only after the consumption committed: signal consumed, wait recorded
    const [consumed] = await signalRows(handle.runId);
    expect(consumed).toMatchObject({ name: 'go', payload, consumed_by: '$signal#1' });
    expect(consumed.consumed_at).toBeInstanceOf(Date);

    const killedAt = a.kill('SIGKILL');
    expect(await a.waitForExit()).toMatchObject({ signal: 'SIGKILL' });
    expect(a.events.some((e) => e.event === 'stepEnd' && e.runId === handle.runId)).toBe(false);
    const b = startWorker('signal-B');
    await b.waitForReady();
    const resumed = await b.waitForStep(handle.runId, 'after-go-1');
    const result = await handle.result({ timeout: '20s' });
    console.log(`signal SIGKILL: B re-ran the step after the wait ${resumed.t - killedAt} ms after the kill; result ${JSON.stringify(result)}`);

    // the replay returned the recorded payload: the workflow and both executions of the step saw the same one
    expect(result).toEqual({ payloads: [payload], workers: ['signal-B'] });
    expect(JSON.parse(resumed.detail as string)).toEqual(payload);
    const ran = await effects(handle.runId);
    expect(ran.map((e) => e.worker)).toEqual(['signal-A', 'signal-B']);
    const { rows: details } = await pool.query('select detail from test_effects where run_id = $1 order by at', [handle.runId]);
    expect(details.map((r) => JSON.parse(r.detail))).toEqual([payload, payload]);
    // consumed exactly once: one signal row, consumed before the kill and never again; one SIGNAL step row
    const signals = await signalRows(handle.runId);
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatchObject({ name: 'go', payload, consumed_by: '$signal#1' });
    expect(signals[0].consumed_at).toEqual(consumed.consumed_at);
    expect(signals[0].consumed_at!.getTime()).toBeLessThan(killedAt);
    expect(await signalSteps(handle.runId)).toEqual([{ step_key: '$signal#1', step_name: 'go', status: 'COMPLETED', output: payload }]);
    expect(await stepRows(handle.runId)).toEqual([
      { step_key: '$signal#1', status: 'COMPLETED', n: 1 },
      { step_key: 'AwaitGoWorkflow.afterGo#1', status: 'COMPLETED', n: 1 },
    ]);
    // B took the run over only after A's lease had expired
    const rows = await audit(handle.runId);
    const runClaims = claims(rows);
    expect(runClaims.map((c) => c.lease_owner)).toEqual([...runClaims.slice(0, -1).map(() => 'signal-A'), 'signal-B']);
    const leaseOfA = Math.max(...rows.filter((r) => r.lease_owner === 'signal-A').map((r) => r.due_at!.getTime()));
    expect(runClaims[runClaims.length - 1].at.getTime()).toBeGreaterThanOrEqual(leaseOfA);
  });

  it('executeChild across a parent crash: one child, the parent resumes with its result', async () => {
    // A runs the parent and (the only worker) its child; it is SIGKILLed while the child's step runs, the parent parked on the child.
    const a = startWorker('child-A', { STEP_DELAYS: JSON.stringify({ 'child-work': 30_000 }) });
    await a.waitForReady();
    const handle = await client.start<{ tag: string }, ParentOfChildOutput>('ParentOfChild', { tag: 'crash' });
    const childrenOf = async (): Promise<Array<{ id: string; status: string; idempotency_key: string; workflow_name: string }>> =>
      (await pool.query('select id, status, idempotency_key, workflow_name from kagzi.workflow_runs where parent_run_id = $1 order by created_at, id', [handle.runId])).rows;
    await waitUntil(async () => (await childrenOf()).length > 0);
    const [child] = await childrenOf();
    const childStarted = await a.waitForStep(child.id, 'child-work');
    // the parent recorded the child and parked on its end (lease released), the child is held by A
    await waitUntil(async () => (await runStatus(handle.runId)) === 'WAITING');
    const { rows: beforeKill } = await pool.query('select id, status, lease_owner from kagzi.workflow_runs where id = any($1::uuid[]) order by id = $2 desc', [
      [handle.runId, child.id],
      handle.runId,
    ]);
    expect(beforeKill).toEqual([
      { id: handle.runId, status: 'WAITING', lease_owner: null },
      { id: child.id, status: 'RUNNING', lease_owner: 'child-A' },
    ]);

    const killedAt = a.kill('SIGKILL');
    expect(await a.waitForExit()).toMatchObject({ signal: 'SIGKILL' });
    expect(a.events.some((e) => e.event === 'stepEnd' && e.runId === child.id)).toBe(false);
    const b = startWorker('child-B', { STEP_DELAYS: JSON.stringify({ 'child-work': 100 }) });
    await b.waitForReady();
    const resumed = await b.waitForStep(child.id, 'child-work');
    const result = await handle.result({ timeout: '20s' }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- parent ---\n${await diagnose(handle.runId)}\n--- child ---\n${await diagnose(child.id)}`);
    });
    const completedMs = Date.now() - killedAt;
    console.log(
      `child SIGKILL: A killed ${killedAt - childStarted.t} ms into the child's step; B re-ran it ${resumed.t - killedAt} ms after the kill; ` +
        `parent completed ${completedMs} ms after the kill: ${JSON.stringify(result)}`,
    );

    // the parent resumed (on B) with the output of the one child B finished
    expect(result).toEqual({ child: { tag: 'crash', worker: 'child-B' }, after: 'child-B' });
    // exactly one child run: the one A inserted, with the key derived from the parent and its step key
    const children = await childrenOf();
    expect(children).toEqual([{ id: child.id, status: 'COMPLETED', idempotency_key: `${handle.runId}/$child#1`, workflow_name: 'ChildWork' }]);
    expect((await client.getRun(handle.runId)).children.map((c) => c.runId)).toEqual([child.id]);
    // the child's step ran twice: A's attempt killed mid-step (its effect is counted at the start), then B's
    expect(await effectCounts(child.id)).toEqual({ 'child-work': ['child-A', 'child-B'] });
    expect(await effectCounts(handle.runId)).toEqual({ 'after-child': ['child-B'] });
    expect(await stepRows(child.id)).toEqual([{ step_key: 'ChildWorkWorkflow.work#1', status: 'COMPLETED', n: 1 }]);
    // the parent's CHILD record exists once, holding the child's run id; its wait consumed the child's end once
    const { rows: childSteps } = await pool.query(
      `select step_key, step_name, status, output -> 'json' as output from kagzi.step_runs where workflow_run_id = $1 and kind = 'CHILD'`,
      [handle.runId],
    );
    expect(childSteps).toEqual([{ step_key: '$child#1', step_name: 'ChildWork', status: 'COMPLETED', output: child.id }]);
    const signals = await signalRows(handle.runId);
    expect(signals.map((s) => [s.name, s.consumed_by !== null])).toEqual([[`$child:${child.id}`, true]]);
    expect(signals[0].payload).toMatchObject({ status: 'COMPLETED' });
    const parentSteps = await stepRows(handle.runId);
    expect(parentSteps.filter((r) => r.n !== 1 || r.status !== 'COMPLETED')).toEqual([]);
    expect(parentSteps.map((r) => r.step_key).sort()).toEqual(['$child#1', signals[0].consumed_by, 'ParentOfChildWorkflow.afterChild#1'].sort());
    // the child was taken over only after A's lease expired; the parent, parked, was claimed again by B only once the child had ended
    const childAudit = await audit(child.id);
    const childClaims = claims(childAudit);
    expect(childClaims.map((c) => c.lease_owner)).toEqual(['child-A', 'child-B']);
    const leaseOfA = Math.max(...childAudit.filter((r) => r.lease_owner === 'child-A').map((r) => r.due_at!.getTime()));
    expect(childClaims[1].at.getTime()).toBeGreaterThanOrEqual(leaseOfA);
    const childEnded = childAudit.find((r) => r.status === 'COMPLETED')!.at.getTime();
    const parentClaims = claims(await audit(handle.runId));
    expect(parentClaims.map((c) => c.lease_owner)).toEqual(['child-A', 'child-B']);
    expect(parentClaims[1].at.getTime()).toBeGreaterThanOrEqual(childEnded);
    expect(completedMs).toBeLessThan(10_000);
  });

  it('two signals "go" per run sent while two worker processes race over 20 runs: no signal is consumed twice, each run sees its two payloads once, oldest first', async () => {
    const delays = JSON.stringify({ 'after-go-1': 20, 'after-go-2': 20 });
    const w1 = startWorker('sigrace-1', { CONCURRENCY: '10', STEP_DELAYS: delays });
    const w2 = startWorker('sigrace-2', { CONCURRENCY: '10', STEP_DELAYS: delays });
    await Promise.all([w1.waitForReady(), w2.waitForReady()]);

    const started = Date.now();
    const handles = await Promise.all(Array.from({ length: 20 }, () => client.start<{ signals: number }, AwaitGoOutput>('AwaitGo', { signals: 2 })));
    // Sent while the runs are being claimed, waiting, parked or woken by either worker: to even runs both at
    // once (which is older is up to the race), to odd runs the second one later, when the run may be parked again.
    const sendGo = (run: number, n: number): Promise<void> => client.signal(handles[run].runId, 'go', { run, n });
    await Promise.all(handles.flatMap((_, run) => (run % 2 === 0 ? [sendGo(run, 1), sendGo(run, 2)] : [sendGo(run, 1)])));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await Promise.all(handles.flatMap((_, run) => (run % 2 === 1 ? [sendGo(run, 2)] : [])));
    const results = await resultsOf(handles, [w1, w2]);
    const elapsed = Date.now() - started;
    expect(await completedCount(handles)).toBe(20);

    const ids = handles.map((h) => h.runId);
    const violations: string[] = [];
    const consumers: Record<string, number> = {};
    let crossed = 0;
    for (const [i, h] of handles.entries()) {
      const signals = await signalRows(h.runId);
      const stored = signals.map((s) => s.payload);
      // each wait consumed the oldest unconsumed signal: the first wait the older one, the second the newer one
      if (JSON.stringify(results[i].payloads) !== JSON.stringify(stored)) violations.push(`${h.runId}: saw ${JSON.stringify(results[i].payloads)}, stored ${JSON.stringify(stored)}`);
      if (stored.length !== 2 || new Set(stored.map((p) => JSON.stringify(p))).size !== 2) violations.push(`${h.runId}: stored ${JSON.stringify(stored)}`);
      if (signals.some((s) => s.consumed_at === null) || JSON.stringify(signals.map((s) => s.consumed_by)) !== '["$signal#1","$signal#2"]') {
        violations.push(`${h.runId}: consumption ${JSON.stringify(signals.map((s) => [s.consumed_by, s.consumed_at]))}`);
      }
      const waits = await signalSteps(h.runId);
      if (JSON.stringify(waits.map((w) => [w.step_key, w.status, w.output])) !== JSON.stringify([['$signal#1', 'COMPLETED', stored[0]], ['$signal#2', 'COMPLETED', stored[1]]])) {
        violations.push(`${h.runId}: waits ${JSON.stringify(waits)}`);
      }
      // the step after each wait ran exactly once, with the payload that wait returned
      const { rows: ran } = await pool.query('select step, worker, detail from test_effects where run_id = $1 order by step', [h.runId]);
      const seen = ran.map((r) => [r.step, JSON.parse(r.detail)]);
      if (JSON.stringify(seen) !== JSON.stringify([['after-go-1', stored[0]], ['after-go-2', stored[1]]])) violations.push(`${h.runId}: steps saw ${JSON.stringify(seen)}`);
      for (const r of ran) consumers[r.worker] = (consumers[r.worker] ?? 0) + 1;
      if (new Set(ran.map((r) => r.worker)).size > 1) crossed++;
    }
    expect(violations).toEqual([]);
    // across all runs: 40 distinct payloads, each seen by exactly one step execution
    const { rows: perPayload } = await pool.query(
      'select detail, count(*)::int as n from test_effects where run_id = any($1::uuid[]) group by detail',
      [ids],
    );
    expect(perPayload).toHaveLength(40);
    expect(perPayload.filter((r) => r.n !== 1)).toEqual([]);
    const { rows: stepDupes } = await pool.query(
      'select workflow_run_id, step_key from kagzi.step_runs where workflow_run_id = any($1::uuid[]) group by 1, 2 having count(*) > 1',
      [ids],
    );
    expect(stepDupes).toEqual([]);
    console.log(
      `signal race: 20 runs x 2 signals done in ${elapsed} ms; step executions per worker ${JSON.stringify(consumers)}, ` +
        `${crossed} run(s) with its two waits served by different workers`,
    );
  });

  it('a frozen owner (SIGSTOP) loses its run to another worker; after SIGCONT its late commit is refused and it stops the run', async () => {
    // A's step two outlasts B's boot even on a loaded machine (B must be up before A freezes mid-step;
    // a child process booting beside a browser suite has taken over 5 s).
    const aStepMs = 12_000;
    const a = startWorker('frozen-A', { STEP_DELAYS: JSON.stringify({ two: aStepMs }) });
    await a.waitForReady();
    const handle = await client.start('ThreeStep', { tag: 'sigstop' });
    const aStep = await a.waitForStep(handle.runId, 'two');
    // B is already running: it must wait for A's lease to expire, not take the run earlier.
    const b = startWorker('frozen-B', { STEP_DELAYS: JSON.stringify({ two: aStepMs + 3_000 }) });
    await b.waitForReady();
    const stoppedAt = a.kill('SIGSTOP');
    try {
      const resumed = await b.waitForStep(handle.runId, 'two').catch(async (err: Error) => {
        throw new Error(`${err.message}\n--- database state ---\n${await diagnose(handle.runId)}`);
      });
      // Let A's step body become overdue: on SIGCONT it returns at once and tries to commit under epoch 1.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, aStep.t + aStepMs + 100 - Date.now())));
      expect(b.events.some((e) => e.event === 'stepEnd' && e.runId === handle.runId && e.step === 'two')).toBe(false);
      a.kill('SIGCONT');
      await a.waitForStep(handle.runId, 'two', 'stepEnd');
      console.log(`SIGSTOP: B took the run over ${resumed.t - stoppedAt} ms after A froze`);
    } finally {
      if (a.alive) a.kill('SIGCONT');
    }
    const result = await handle.result({ timeout: '20s' });
    // A noticed it lost the run (refused commit or refused heartbeat) and went no further
    await a.waitFor('A logs the lost lease', () => /lease lost|could not be renewed/i.test(a.output), 5_000);
    expect(a.alive).toBe(true);
    console.log(`SIGSTOP: A after SIGCONT: ${a.output.split('\n').filter((l) => /lease lost|could not be renewed/i.test(l)).join(' | ')}`);

    expect(result).toEqual({ one: 'frozen-A', two: 'frozen-B', three: 'frozen-B' });
    expect(await effectCounts(handle.runId)).toEqual({ one: ['frozen-A'], two: ['frozen-A', 'frozen-B'], three: ['frozen-B'] });
    expect(await stepRows(handle.runId)).toEqual([
      { step_key: 'ThreeStepWorkflow.one#1', status: 'COMPLETED', n: 1 },
      { step_key: 'ThreeStepWorkflow.three#1', status: 'COMPLETED', n: 1 },
      { step_key: 'ThreeStepWorkflow.two#1', status: 'COMPLETED', n: 1 },
    ]);
    const rows = await audit(handle.runId);
    const runClaims = claims(rows);
    expect(runClaims.map((c) => [c.lease_owner, c.lease_epoch])).toEqual([
      ['frozen-A', 1],
      ['frozen-B', 2],
    ]);
    const leaseOfA = Math.max(...rows.filter((r) => r.lease_owner === 'frozen-A').map((r) => r.due_at!.getTime()));
    expect(runClaims[1].at.getTime()).toBeGreaterThanOrEqual(leaseOfA);
    // after the takeover nothing was written under A's name
    expect(rows.filter((r) => r.at.getTime() > runClaims[1].at.getTime() && r.lease_owner === 'frozen-A')).toEqual([]);
  });

  it('a step longer than the lease keeps its owner: heartbeats renew the lease in time and a competing worker never claims the run', async () => {
    const a = startWorker('long-A', { STEP_DELAYS: JSON.stringify({ two: 5_000 }) });
    await a.waitForReady();
    const handle = await client.start('ThreeStep', { tag: 'long step' });
    await a.waitForStep(handle.runId, 'two');
    const b = startWorker('long-B');
    await b.waitForReady();
    const result = await handle.result({ timeout: '20s' });

    expect(result).toEqual({ one: 'long-A', two: 'long-A', three: 'long-A' });
    expect(await effectCounts(handle.runId)).toEqual({ one: ['long-A'], two: ['long-A'], three: ['long-A'] });
    expect(b.events.filter((e) => e.runId === handle.runId)).toEqual([]);
    const rows = await audit(handle.runId);
    expect(claims(rows).map((c) => [c.lease_owner, c.lease_epoch])).toEqual([['long-A', 1]]);
    // while it ran, every renewal landed before the previous lease ran out
    const held = rows.filter((r) => r.status === 'RUNNING');
    expect(held.length).toBeGreaterThanOrEqual(5_000 / 500 - 2);
    const lapses = held.slice(1).filter((r, i) => r.at.getTime() >= held[i].due_at!.getTime());
    expect(lapses).toEqual([]);
  });

  it('two workers racing over 200 runs: each run and step executes exactly once, under a single owner', async () => {
    const delays = JSON.stringify({ first: 10, second: 10 });
    const w1 = startWorker('race-1', { CONCURRENCY: '10', STEP_DELAYS: delays });
    const w2 = startWorker('race-2', { CONCURRENCY: '10', STEP_DELAYS: delays });
    await Promise.all([w1.waitForReady(), w2.waitForReady()]);

    const started = Date.now();
    const handles = await Promise.all(Array.from({ length: 200 }, (_, n) => client.start<{ n: number }, Record<string, string>>('TwoStep', { n })));
    const results = await resultsOf(handles, [w1, w2]);
    const elapsed = Date.now() - started;

    // every run completed, and both of its steps ran in the same worker
    expect(await completedCount(handles)).toBe(200);
    for (const r of results) expect(['race-1', 'race-2']).toContain(r.first);
    expect(results.filter((r) => r.first !== r.second)).toEqual([]);

    const ids = handles.map((h) => h.runId);
    const { rows: perStep } = await pool.query(
      'select run_id, step, count(*)::int as n from test_effects where run_id = any($1::uuid[]) group by run_id, step',
      [ids],
    );
    expect(perStep).toHaveLength(400);
    expect(perStep.filter((r) => r.n !== 1)).toEqual([]);
    const { rows: owners } = await pool.query(
      'select run_id, array_agg(distinct worker) as workers from test_effects where run_id = any($1::uuid[]) group by run_id',
      [ids],
    );
    expect(owners).toHaveLength(200);
    expect(owners.filter((r) => r.workers.length !== 1)).toEqual([]);
    // every run was claimed exactly once (no lease expired, nobody stole a run)
    const { rows: claimCounts } = await pool.query(
      `select run_id, count(distinct lease_epoch)::int as claims from run_audit
       where run_id = any($1::uuid[]) and status = 'RUNNING' group by run_id`,
      [ids],
    );
    expect(claimCounts.filter((r) => r.claims !== 1)).toEqual([]);
    const { rows: stepDupes } = await pool.query(
      'select workflow_run_id, step_key from kagzi.step_runs where workflow_run_id = any($1::uuid[]) group by 1, 2 having count(*) > 1',
      [ids],
    );
    expect(stepDupes).toEqual([]);

    const split = { 'race-1': 0, 'race-2': 0 } as Record<string, number>;
    for (const r of owners) split[r.workers[0]]++;
    console.log(`race: 200 runs in ${elapsed} ms; split ${JSON.stringify(split)}`);
    expect(split['race-1']).toBeGreaterThan(0);
    expect(split['race-2']).toBeGreaterThan(0);
  });

  it('SIGKILL one of two workers in the middle of 200 runs: the survivor finishes them all, committed steps never re-execute', async () => {
    const delays = JSON.stringify({ first: 40, second: 40 });
    const w1 = startWorker('crash-1', { CONCURRENCY: '10', STEP_DELAYS: delays });
    const w2 = startWorker('crash-2', { CONCURRENCY: '10', STEP_DELAYS: delays });
    await Promise.all([w1.waitForReady(), w2.waitForReady()]);
    const handles = await Promise.all(Array.from({ length: 200 }, (_, n) => client.start<{ n: number }, Record<string, string>>('TwoStep', { n })));
    await w1.waitFor('crash-1 to start 60 steps', () => w1.events.filter((e) => e.event === 'step').length >= 60);
    const killedAt = w1.kill('SIGKILL');
    await w1.waitForExit();
    const inFlightAtKill = new Set(
      w1.events.filter((e) => e.event === 'step' && !w1.events.some((x) => x.event === 'stepEnd' && x.runId === e.runId && x.step === e.step)).map((e) => e.runId),
    );

    const results = await resultsOf(handles, [w1, w2]);
    const elapsed = Date.now() - killedAt;
    expect(await completedCount(handles)).toBe(200);

    const ids = handles.map((h) => h.runId);
    const { rows } = await pool.query(
      'select run_id, step, array_agg(worker order by at) as workers from test_effects where run_id = any($1::uuid[]) group by run_id, step',
      [ids],
    );
    const effectsOf = new Map(rows.map((r) => [`${r.run_id}/${r.step}`, r.workers as string[]]));
    const violations: string[] = [];
    let resumed = 0;
    handles.forEach((h, i) => {
      for (const step of ['first', 'second']) {
        const committedBy = results[i][step];
        const workers = effectsOf.get(`${h.runId}/${step}`) ?? [];
        // The worker whose output was committed ran the step exactly once, and last. A step committed by the
        // killed worker never ran again; one committed by the survivor may follow one abandoned attempt of crash-1.
        const ok =
          committedBy === 'crash-1'
            ? workers.length === 1 && workers[0] === 'crash-1'
            : (workers.length === 1 && workers[0] === 'crash-2') || (workers.length === 2 && workers[0] === 'crash-1' && workers[1] === 'crash-2');
        if (!ok) violations.push(`${h.runId} ${step}: committed by ${committedBy}, executed by ${workers.join(', ') || 'nobody'}`);
        if (workers.length === 2) resumed++;
      }
    });
    expect(violations).toEqual([]);
    const { rows: stepDupes } = await pool.query(
      'select workflow_run_id, step_key from kagzi.step_runs where workflow_run_id = any($1::uuid[]) group by 1, 2 having count(*) > 1',
      [ids],
    );
    expect(stepDupes).toEqual([]);
    // every run crash-1 held at the kill was taken over only after its lease had expired
    const { rows: takeovers } = await pool.query(
      `select c.run_id, c.at as claimed_at,
              (select max(a.due_at) from run_audit a where a.run_id = c.run_id and a.lease_owner = 'crash-1') as lease_of_crash1
       from run_audit c
       where c.run_id = any($1::uuid[]) and c.status = 'RUNNING' and c.lease_owner = 'crash-2'
         and exists (select 1 from run_audit p where p.run_id = c.run_id and p.lease_owner = 'crash-1')
         and c.lease_epoch = (select min(lease_epoch) from run_audit x where x.run_id = c.run_id and x.lease_owner = 'crash-2')`,
      [ids],
    );
    const early = takeovers.filter((t) => t.claimed_at.getTime() < t.lease_of_crash1.getTime());
    expect(early).toEqual([]);
    const split = results.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.second]: (acc[r.second] ?? 0) + 1 }), {});
    console.log(
      `crash: crash-1 killed with ${inFlightAtKill.size} step(s) in flight; all 200 runs done ${elapsed} ms after the kill; ` +
        `${takeovers.length} run(s) taken over by crash-2, ${resumed} step(s) re-executed after the kill; final step committed by ${JSON.stringify(split)}`,
    );
    expect(takeovers.length).toBeGreaterThanOrEqual(inFlightAtKill.size);
    expect(elapsed).toBeLessThan(15_000);
  });

  it('SIGTERM within shutdownTimeout: the in-flight step finishes, the process exits 0, the run completes', async () => {
    const a = startWorker('drain-A', { SHUTDOWN_TIMEOUT: '10s', STEP_DELAYS: JSON.stringify({ two: 1_000 }) });
    await a.waitForReady();
    const handle = await client.start('ThreeStep', { tag: 'drain' });
    await a.waitForStep(handle.runId, 'two');
    const termAt = a.kill('SIGTERM');
    await a.waitFor('SIGTERM received', (e) => e.event === 'signal');
    // Draining: no new claims. A run started now must wait for another worker.
    const late = await client.start('ThreeStep', { tag: 'started during drain' });

    const exit = await a.waitForExit();
    const stepEnd = await a.waitForStep(handle.runId, 'two', 'stepEnd');
    console.log(`drain: exited ${exit.code ?? exit.signal} ${exit.at - termAt} ms after SIGTERM (step two ended ${stepEnd.t - termAt} ms after it)`);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at).toBeGreaterThanOrEqual(stepEnd.t);
    expect(exit.at - termAt).toBeLessThan(5_000);

    let finishedBy = 'drain-A (before exit)';
    if ((await handle.status()) !== 'COMPLETED') {
      finishedBy = 'drain-B (handed back)';
      const b = startWorker('drain-B');
      await b.waitForReady();
    }
    const result = await handle.result({ timeout: '20s' });
    console.log(`drain: run finished by ${finishedBy}: ${JSON.stringify(result)}`);
    expect(result).toMatchObject({ one: 'drain-A', two: 'drain-A' });
    const counts = await effectCounts(handle.runId);
    expect(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v.length]))).toEqual({ one: 1, two: 1, three: 1 });
    expect((await stepRows(handle.runId)).map((r) => [r.status, r.n])).toEqual([
      ['COMPLETED', 1],
      ['COMPLETED', 1],
      ['COMPLETED', 1],
    ]);
    // the run started during the drain was never claimed by the draining worker
    expect((await effects(late.runId)).filter((e) => e.worker === 'drain-A')).toEqual([]);
    expect(claims(await audit(late.runId)).filter((c) => c.lease_owner === 'drain-A')).toEqual([]);
  });

  it('SIGTERM past shutdownTimeout: the run is handed back at once and another worker resumes it; the late attempt commits nothing', async () => {
    // A's step two outlasts B's boot even on a loaded machine: SIGTERM must reach A mid-step.
    const a = startWorker('handback-A', { SHUTDOWN_TIMEOUT: '300ms', STEP_DELAYS: JSON.stringify({ two: 12_000 }) });
    await a.waitForReady();
    const handle = await client.start('ThreeStep', { tag: 'handback' });
    await a.waitForStep(handle.runId, 'two');
    const b = startWorker('handback-B', { STEP_DELAYS: JSON.stringify({ two: 200 }) });
    await b.waitForReady();

    const termAt = a.kill('SIGTERM');
    const exit = await a.waitForExit();
    const resumed = await b.waitForStep(handle.runId, 'two');
    const result = await handle.result({ timeout: '20s' });
    const rows = await audit(handle.runId);
    const leaseOfA = Math.max(...rows.filter((r) => r.lease_owner === 'handback-A').map((r) => r.due_at!.getTime()));
    console.log(
      `hand-back: A exited ${exit.code ?? exit.signal} ${exit.at - termAt} ms after SIGTERM; B resumed step two ${resumed.t - termAt} ms after SIGTERM, ` +
        `${leaseOfA - resumed.t} ms before A's lease would have expired`,
    );

    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - termAt).toBeLessThan(2_000);
    expect(a.events.some((e) => e.event === 'stepEnd' && e.runId === handle.runId && e.step === 'two')).toBe(false);
    // handed back: a PENDING row with the lease cleared and due now, written by A's release (epoch still 1) ...
    const releaseIndex = rows.findIndex((r) => r.status === 'PENDING' && r.lease_epoch === 1);
    expect(releaseIndex).toBeGreaterThan(0);
    const release = rows[releaseIndex];
    expect(release.lease_owner).toBeNull();
    expect(release.due_at!.getTime()).toBeLessThanOrEqual(release.at.getTime() + 5);
    expect(release.at.getTime()).toBeGreaterThanOrEqual(termAt - 50);
    // ... then claimed by B (epoch 2) well before A's lease would have expired
    const runClaims = claims(rows);
    expect(runClaims.map((c) => [c.lease_owner, c.lease_epoch])).toEqual([
      ['handback-A', 1],
      ['handback-B', 2],
    ]);
    expect(runClaims[1].at.getTime()).toBeGreaterThanOrEqual(release.at.getTime());
    expect(runClaims[1].at.getTime()).toBeLessThan(leaseOfA - 500);
    expect(resumed.t - termAt).toBeLessThan(1_500);

    expect(result).toEqual({ one: 'handback-A', two: 'handback-B', three: 'handback-B' });
    expect(await effectCounts(handle.runId)).toEqual({ one: ['handback-A'], two: ['handback-A', 'handback-B'], three: ['handback-B'] });
    // A's abandoned attempt of step two wrote nothing: exactly one completed row per step key
    expect(await stepRows(handle.runId)).toEqual([
      { step_key: 'ThreeStepWorkflow.one#1', status: 'COMPLETED', n: 1 },
      { step_key: 'ThreeStepWorkflow.three#1', status: 'COMPLETED', n: 1 },
      { step_key: 'ThreeStepWorkflow.two#1', status: 'COMPLETED', n: 1 },
    ]);
  });

  it('installs no signal handlers: booting and closing an app with KagziModule leaves SIGTERM/SIGINT (and other shutdown signal) listeners unchanged', async () => {
    const child = startWorker('listeners', { MODE: 'listeners' });
    const report = await child.waitFor('listener counts', (e) => e.event === 'listeners');
    expect(await child.waitForExit()).toMatchObject({ code: 0 });
    console.log(`listeners: ${JSON.stringify(report)}`);
    expect(report.workerState).toBe('RUNNING');
    expect(report.afterImport).toEqual(report.before);
    expect(report.afterBoot).toEqual(report.before);
    expect(report.afterClose).toEqual(report.before);
  });
});
