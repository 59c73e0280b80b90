import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { BenchApp, bootBenchApp } from '../bench-app';
import { CpuMeter, CpuReport } from '../cpu';
import { isLocalServer } from '../database';
import { countByName } from '../probe';
import { Figure, emit, round, summarize } from '../report';
import { ScenarioContext } from '../scenario';
import { ThreeStepWorkflow } from '../workflows';

const DEFAULT_CONCURRENCY = 10;

interface Measurement {
  concurrency: number;
  workflowsPerS: number;
  ms: number;
  startPhaseMs: number;
  latency: ReturnType<typeof summarize>;
  statementsPerRun: number;
  byStatementPerRun: Record<string, number>;
  cpu: CpuReport;
  /** workflows/s of every rep, when there were several. */
  reps?: number[];
}

/**
 * N three-step workflows, one start() each (at most `inFlight` start() calls outstanding), then every
 * result awaited; workflows/s = N / (first start → last result). One app (client + worker in one
 * process) per worker concurrency setting; the default (10) and the best setting are both reported.
 * CPU time of this process and of the database's server processes is sampled around each measurement.
 */
export async function runThroughput(ctx: ScenarioContext): Promise<void> {
  const { throughputN: n, throughputWarmup: warmup, concurrency: settings, inFlight } = ctx.config;
  const results: Measurement[] = [];
  for (const concurrency of settings) {
    const app = await bootBenchApp(ctx.target, { concurrency });
    const admin = isLocalServer(app.db.url) ? new Client({ connectionString: app.db.url }) : undefined;
    try {
      await admin?.connect();
      await app.reset();
      if (warmup > 0) await fire(app, warmup, inFlight);
      const reps: Measurement[] = [];
      for (let rep = 0; rep < ctx.config.throughputReps; rep++) {
        await app.reset();
        reps.push(await measureOnce(app, admin, concurrency, n, inFlight));
      }
      // With several reps, the median one (by workflows/s) stands for the setting.
      const sorted = [...reps].sort((a, b) => a.workflowsPerS - b.workflowsPerS);
      const m = { ...sorted[Math.floor((sorted.length - 1) / 2)], reps: reps.map((r) => round(r.workflowsPerS)) };
      results.push(m);
      emit(figure(m, n, inFlight, 'workflows_per_s'));
    } finally {
      await admin?.end();
      await app.close();
    }
  }
  await measureBurst(ctx, n);
  // Summary lines: the library default (concurrency 10) and the best setting tried.
  const tried = results.map((r) => ({ worker_concurrency: r.concurrency, workflows_per_s: round(r.workflowsPerS) }));
  const byDefault = results.find((r) => r.concurrency === DEFAULT_CONCURRENCY);
  if (byDefault) emit({ ...figure(byDefault, n, inFlight, 'workflows_per_s_default'), detail: { tried } });
  const best = results.reduce((a, b) => (b.workflowsPerS > a.workflowsPerS ? b : a));
  emit({ ...figure(best, n, inFlight, 'workflows_per_s_tuned'), detail: { tried } });
}

async function measureOnce(app: BenchApp, admin: Client | undefined, concurrency: number, n: number, inFlight: number): Promise<Measurement> {
  const meter = new CpuMeter(admin);
  await meter.start();
  app.probe.start();
  const run = await fire(app, n, inFlight);
  const { records } = app.probe.stop();
  const cpu = await meter.stop();
  const byName = countByName(records);
  return {
    concurrency,
    workflowsPerS: n / (run.ms / 1000),
    ms: run.ms,
    startPhaseMs: run.startPhaseMs,
    latency: summarize(run.latencies),
    statementsPerRun: round(records.length / n),
    byStatementPerRun: Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, round(v / n)])),
    cpu,
  };
}

/**
 * The burst shape many users write: every start at once (`Promise.all` of n `start()` calls), and only
 * then every `result()` wait, at the default concurrency (10). Reported beside the paced shape above;
 * CPU per workflow should match it.
 */
async function measureBurst(ctx: ScenarioContext, n: number): Promise<void> {
  const app = await bootBenchApp(ctx.target, { concurrency: DEFAULT_CONCURRENCY });
  const admin = isLocalServer(app.db.url) ? new Client({ connectionString: app.db.url }) : undefined;
  try {
    await admin?.connect();
    await app.reset();
    const meter = new CpuMeter(admin);
    await meter.start();
    app.probe.start();
    const t0 = performance.now();
    const handles = await Promise.all(Array.from({ length: n }, (_, i) => app.client.start(ThreeStepWorkflow, { n: i })));
    const startPhaseMs = performance.now() - t0;
    await Promise.all(handles.map((h) => h.result()));
    const ms = performance.now() - t0;
    const { records } = app.probe.stop();
    const cpu = await meter.stop();
    const byName = countByName(records);
    const m: Measurement = {
      concurrency: DEFAULT_CONCURRENCY,
      workflowsPerS: n / (ms / 1000),
      ms,
      startPhaseMs,
      latency: summarize([ms]),
      statementsPerRun: round(records.length / n),
      byStatementPerRun: Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, round(v / n)])),
      cpu,
    };
    emit({ ...figure(m, n, 0, 'workflows_per_s_burst'), params: { worker_concurrency: DEFAULT_CONCURRENCY, shape: 'all starts, then all results', workflow: '3 steps' } });
  } finally {
    await admin?.end();
    await app.close();
  }
}

function figure(m: Measurement, n: number, inFlight: number, metric: string): Figure {
  return {
    scenario: 'throughput',
    metric,
    value: m.workflowsPerS,
    unit: 'workflows/s',
    n,
    target: '>=1000',
    params: { worker_concurrency: m.concurrency, in_flight_starts: inFlight || 'all', workflow: '3 steps' },
    detail: {
      ...(m.reps && m.reps.length > 1 ? { reps_workflows_per_s: m.reps } : {}),
      total_ms: round(m.ms),
      all_started_after_ms: round(m.startPhaseMs),
      start_to_result_ms: m.latency,
      statements_per_run: m.statementsPerRun,
      by_statement_per_run: m.byStatementPerRun,
      cpu_ms_per_run: {
        node: round(m.cpu.node_cpu_ms / n, 3),
        postgres: m.cpu.postgres_cpu_ms === undefined ? undefined : round(m.cpu.postgres_cpu_ms / n, 3),
      },
      machine_busy_pct: m.cpu.machine_busy_pct === undefined ? undefined : round(m.cpu.machine_busy_pct),
      cores: m.cpu.cores,
    },
  };
}

async function fire(app: BenchApp, n: number, inFlight: number): Promise<{ ms: number; startPhaseMs: number; latencies: number[] }> {
  const latencies = new Array<number>(n);
  const results: Array<Promise<unknown>> = [];
  let next = 0;
  const t0 = performance.now();
  const starter = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const started = performance.now();
      const handle = await app.client.start(ThreeStepWorkflow, { n: i });
      const result = handle.result().then((value) => {
        latencies[i] = performance.now() - started;
        return value;
      });
      result.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile
      results.push(result);
    }
  };
  await Promise.all(Array.from({ length: inFlight > 0 ? Math.min(inFlight, n) : n }, starter));
  const startPhaseMs = performance.now() - t0;
  await Promise.all(results);
  return { ms: performance.now() - t0, startPhaseMs, latencies };
}
