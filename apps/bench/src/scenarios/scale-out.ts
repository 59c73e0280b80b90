import { ChildProcess, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { BenchApp, bootBenchApp, setVerboseLogs } from '../bench-app';
import { CpuMeter, CpuReport } from '../cpu';
import { BenchTarget, isLocalServer } from '../database';
import { emit, note, round, sleep } from '../report';
import { ScenarioContext } from '../scenario';
import { ThreeStepWorkflow } from '../workflows';

/** Worker concurrency of each child process: the library default. */
const CHILD_CONCURRENCY = 10;
/** Idle window before each measurement: what N idle worker processes cost the database (polls, heartbeats). */
const IDLE_MS = 5_000;
const CHILD_ENV = 'KAGZI_BENCH_SCALE_OUT_JOB';

type ChildJob = { target: BenchTarget; concurrency: number; verbose: boolean };
type DriverMessage = { type: 'sample' };
/** `usage`: process.cpuUsage() now; counts: statements (all, finishRun, claimRuns, claims that got nothing) since the previous sample. */
type ChildMessage =
  | { type: 'ready' }
  | { type: 'sample'; usage: NodeJS.CpuUsage; statements: number; finished: number; claims: number; emptyClaims: number }
  | { type: 'stopped'; closeMs: number };
type Sample = Extract<ChildMessage, { type: 'sample' }>;

interface Measurement {
  processes: number;
  n: number;
  ms: number;
  /** The measured window, and the idle window before it. */
  cpu: CpuReport;
  idle: CpuReport;
  /** Each worker's samples: before the idle window, before the measured window, after it. */
  samples: [Sample[], Sample[], Sample[]];
  connections: number;
  closeMs: Array<number | undefined>;
}

/**
 * Throughput of the 3-step workflow with 1, 2, 3… worker processes on one database. This process is a
 * client only (worker: false): it starts `--scale-out-n` runs (at most `--in-flight` start() calls
 * outstanding) and awaits every result. The workers are child processes of the bench (worker concurrency
 * 10 each), booted and polling before the window opens and stopped with SIGTERM (drained) after it.
 * CPU is split between this process, the workers (process.cpuUsage() reported by each over IPC) and the
 * PostgreSQL processes of the bench database (/proc); the machine's busy share says whether anything is left.
 */
export async function runScaleOut(ctx: ScenarioContext): Promise<void> {
  const { scaleOutN: n, scaleOutProcesses: counts, inFlight } = ctx.config;
  const app = await bootBenchApp(ctx.target, false);
  const admin = isLocalServer(app.db.url) ? new Client({ connectionString: app.db.url }) : undefined;
  const results: Measurement[] = [];
  try {
    await admin?.connect();
    for (const processes of counts) {
      const m = await measure(app, admin, ctx, processes, n, inFlight);
      results.push(m);
      emit(figure(m, inFlight, results[0]));
    }
  } finally {
    await admin?.end();
    await app.close();
  }
  printTable(results);
}

async function measure(app: BenchApp, admin: Client | undefined, ctx: ScenarioContext, processes: number, n: number, inFlight: number): Promise<Measurement> {
  await app.reset();
  const job: ChildJob = { target: ctx.target, concurrency: CHILD_CONCURRENCY, verbose: ctx.config.verbose };
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < processes; i++) children.push(spawnWorker(job));
    await Promise.all(children.map((c) => waitFor(c, 'ready', 120_000)));
    await fire(app, Math.max(1, Math.round(n / 10)), inFlight); // warm-up: JIT, pools, prepared statements
    await app.reset();

    const idleMeter = new CpuMeter(admin);
    await idleMeter.start();
    const s0 = await sampleAll(children);
    await sleep(IDLE_MS);
    const idle = await idleMeter.stop();
    const meter = new CpuMeter(admin);
    await meter.start();
    const s1 = await sampleAll(children);
    const ms = await fire(app, n, inFlight);
    const s2 = await sampleAll(children);
    const cpu = await meter.stop();
    const { rows } = admin ? await admin.query<{ c: string }>('select count(*) as c from pg_stat_activity where datname = current_database()') : { rows: [] };
    const closeMs = await Promise.all(children.map(stopWorker));
    return { processes, n, ms, cpu, idle, samples: [s0, s1, s2], connections: Number(rows[0]?.c ?? NaN), closeMs };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

function figure(m: Measurement, inFlight: number, first: Measurement) {
  const [s0, s1, s2] = m.samples;
  const workersMs = s2.map((s, i) => cpuMs(s1[i], s));
  const workers = workersMs.reduce((a, b) => a + b, 0);
  const idleS = m.idle.wall_ms / 1000;
  const perRun = (f: (s: Sample) => number): number => round(s2.reduce((a, s) => a + f(s), 0) / m.n, 2);
  const per = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : round(ms / m.n, 3));
  const share = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : round((100 * ms) / (m.cpu.wall_ms * m.cpu.cores), 1));
  const rate = (m: Measurement): number => m.n / (m.ms / 1000);
  return {
    scenario: 'scale-out',
    metric: 'workflows_per_s',
    value: rate(m),
    unit: 'workflows/s',
    n: m.n,
    params: { worker_processes: m.processes, worker_concurrency: CHILD_CONCURRENCY, in_flight_starts: inFlight || 'all', workflow: '3 steps' },
    detail: {
      total_ms: round(m.ms),
      speedup_vs_first: round(rate(m) / rate(first), 2),
      cpu_ms_per_workflow: { driver: per(m.cpu.node_cpu_ms), workers: per(workers), postgres: per(m.cpu.postgres_cpu_ms), total: per(m.cpu.node_cpu_ms + workers + (m.cpu.postgres_cpu_ms ?? 0)) },
      machine_busy_pct: m.cpu.machine_busy_pct === undefined ? undefined : round(m.cpu.machine_busy_pct, 1),
      machine_share_pct: { driver: share(m.cpu.node_cpu_ms), workers: share(workers), postgres: share(m.cpu.postgres_cpu_ms) },
      worker_cpu_ms: workersMs.map((v) => round(v)),
      runs_finished_by_process: s2.map((s) => s.finished),
      worker_statements_per_run: perRun((s) => s.statements),
      // every start's NOTIFY wakes every idle worker; all but one of their claims may find the run taken
      claims_per_run: perRun((s) => s.claims),
      empty_claims_per_run: perRun((s) => s.emptyClaims),
      idle_workers: {
        postgres_cpu_ms_per_s: m.idle.postgres_cpu_ms === undefined ? undefined : round(m.idle.postgres_cpu_ms / idleS, 1),
        worker_cpu_ms_per_s: round(s1.reduce((a, s, i) => a + cpuMs(s0[i], s), 0) / idleS, 1),
        worker_statements_per_s: round(s1.reduce((a, s) => a + s.statements, 0) / idleS, 1),
      },
      database_connections: m.connections,
      drain_ms: m.closeMs.map((v) => (v === undefined ? undefined : round(v))),
      cores: m.cpu.cores,
    },
  };
}

function printTable(results: readonly Measurement[]): void {
  const cell = (v: unknown, w: number): string => String(v ?? '-').padStart(w);
  note('[scale-out] processes  workflows/s  CPU ms/workflow: driver  workers  postgres  total  machine busy %  postgres share %');
  for (const m of results) {
    const { cpu_ms_per_workflow: c, machine_busy_pct: busy, machine_share_pct: share } = figure(m, 0, results[0]).detail;
    note(`[scale-out] ${cell(m.processes, 9)}  ${cell(round(m.n / (m.ms / 1000)), 11)}  ${cell(c.driver, 22)}  ${cell(c.workers, 7)}  ${cell(c.postgres, 8)}  ${cell(c.total, 5)}  ${cell(busy, 14)}  ${cell(share.postgres, 16)}`);
  }
}

const cpuMs = (a: Sample, b: Sample): number => (b.usage.user - a.usage.user + b.usage.system - a.usage.system) / 1000;

/** Starts `n` runs, at most `inFlight` start() calls outstanding, then awaits every result; returns the wall time. */
async function fire(app: BenchApp, n: number, inFlight: number): Promise<number> {
  const results: Array<Promise<unknown>> = [];
  let next = 0;
  const t0 = performance.now();
  const starter = async (): Promise<void> => {
    while (next < n) {
      const handle = await app.client.start(ThreeStepWorkflow, { n: next++ });
      const result = handle.result({ timeout: '5m' });
      result.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile
      results.push(result);
    }
  };
  await Promise.all(Array.from({ length: inFlight > 0 ? Math.min(inFlight, n) : n }, starter));
  await Promise.all(results);
  return performance.now() - t0;
}

function spawnWorker(job: ChildJob): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, __filename], {
    env: { ...process.env, [CHILD_ENV]: JSON.stringify(job) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

async function sampleAll(children: readonly ChildProcess[]): Promise<Sample[]> {
  const replies = children.map((c) => waitFor(c, 'sample', 30_000));
  for (const c of children) c.send({ type: 'sample' } satisfies DriverMessage);
  return Promise.all(replies);
}

/**
 * SIGTERM, as a deploy would: the child closes its app (the worker drains), reports how long that took and
 * disconnects. Both `exit` and `disconnect` are awaited: a message is only sure to have arrived once the channel closed.
 */
async function stopWorker(child: ChildProcess): Promise<number | undefined> {
  let closeMs: number | undefined;
  child.on('message', (m: ChildMessage) => {
    if (m.type === 'stopped') closeMs = m.closeMs;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const disconnected = child.connected ? new Promise<void>((resolve) => child.once('disconnect', () => resolve())) : undefined;
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
  child.kill('SIGTERM');
  const [code] = await Promise.all([exited, disconnected]);
  clearTimeout(kill);
  if (code !== 0) throw new Error(`scale-out worker process ${child.pid ?? '?'} exited with ${String(code)} on SIGTERM`);
  return closeMs;
}

function waitFor<T extends ChildMessage['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ChildMessage): void => {
      if (m.type === type) done(undefined, m as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(new Error(`scale-out worker process ${child.pid ?? '?'} exited (${code ?? signal}) before its '${type}' message`));
    const timer = setTimeout(() => done(new Error(`scale-out worker process ${child.pid ?? '?'}: no '${type}' message within ${timeoutMs} ms`)), timeoutMs);
    const done = (err?: Error, m?: Extract<ChildMessage, { type: T }>): void => {
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', onExit);
      return err || !m ? reject(err) : resolve(m);
    };
    child.on('message', onMessage).on('exit', onExit);
  });
}

/** Child side: a worker-only process (its client is never used) that answers samples and drains on SIGTERM. */
async function serveAsWorkerProcess(): Promise<void> {
  const job = JSON.parse(process.env[CHILD_ENV] ?? 'null') as ChildJob | null;
  const send = process.send?.bind(process);
  if (!job || !send) throw new Error(`${CHILD_ENV} and an IPC channel are set by the scale-out scenario only`);
  setVerboseLogs(job.verbose);
  const app = await bootBenchApp(job.target, { concurrency: job.concurrency });
  app.probe.start();
  process.on('message', (m: DriverMessage) => {
    if (m.type !== 'sample') return;
    const { records } = app.probe.stop();
    app.probe.start();
    const count = (name: string, empty = false): number => records.filter((r) => r.name === name && (!empty || r.rows === 0)).length;
    const counts = { statements: records.length, finished: count('finishRun'), claims: count('claimRuns'), emptyClaims: count('claimRuns', true) };
    send({ type: 'sample', usage: process.cpuUsage(), ...counts } satisfies ChildMessage);
  });
  process.once('SIGTERM', () => {
    const t0 = performance.now();
    app.close().then(
      () => send({ type: 'stopped', closeMs: performance.now() - t0 } satisfies ChildMessage, undefined, undefined, () => {
        process.disconnect();
        setTimeout(() => process.exit(0), 2_000).unref(); // in case a handle outlives the app
      }),
      (err: unknown) => {
        note(`scale-out worker ${process.pid}: close failed: ${String(err)}`);
        process.exit(1);
      },
    );
  });
  send({ type: 'ready' } satisfies ChildMessage);
}

if (require.main === module) {
  serveAsWorkerProcess().catch((err: unknown) => {
    note(`scale-out worker ${process.pid} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
}
