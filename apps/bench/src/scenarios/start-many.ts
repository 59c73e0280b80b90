import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { StartManyItem } from '@kagzi/nestjs';
import { BenchApp, bootBenchApp } from '../bench-app';
import { CpuMeter } from '../cpu';
import { isLocalServer } from '../database';
import { countByName } from '../probe';
import { emit, median, note, round } from '../report';
import { ScenarioContext } from '../scenario';
import { ThreeStepWorkflow } from '../workflows';

/** Runs started per measurement, and measurements per variant (rounds alternate the variants; the median is kept). */
const TOTAL = 50_000;
const ROUNDS = 3;
const VARIANTS = [
  { batch: 1_000, keys: false },
  { batch: 10_000, keys: false },
  { batch: 10_000, keys: true },
] as const;
/** start() one run per call, as many in flight as `throughput` uses: the figure batches are compared with. */
const SINGLE_N = 5_000;
const SINGLE_IN_FLIGHT = 64;

type Variant = (typeof VARIANTS)[number];

interface Measurement {
  runsPerS: number;
  statements: Record<string, number>;
  cpuMsPerRun: { node: number; postgres?: number };
  machineBusyPct?: number;
}

/**
 * `client.startMany`: runs started per second, TOTAL runs of the 3-step workflow per measurement in
 * batches of 1,000 or 10,000 (one batch at a time, each awaited), with and without an idempotency key
 * per item; and `start()` one run per call (SINGLE_IN_FLIGHT in flight) on the same app for comparison.
 * A client-only app (no worker), so the figure is the start path alone, not the runs' execution; the run
 * tables are emptied before each measurement. Statements and CPU (this process, the server) per run.
 */
export async function runStartMany(ctx: ScenarioContext): Promise<void> {
  const app = await bootBenchApp(ctx.target, false);
  const admin = isLocalServer(app.db.url) ? new Client({ connectionString: app.db.url }) : undefined;
  const results = new Map<Variant | 'single', Measurement[]>();
  try {
    await admin?.connect();
    await app.reset();
    await startBatches(app, { batch: 1_000, keys: true }, 10_000, 0); // warm-up: plans, JIT, pool
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [...VARIANTS] : [...VARIANTS].reverse();
      for (const variant of order) {
        await app.reset();
        const m = await measure(app, admin, TOTAL, () => startBatches(app, variant, TOTAL, round));
        results.set(variant, [...(results.get(variant) ?? []), m]);
        note(`[start-many] round ${round + 1} batch ${variant.batch}${variant.keys ? ' with keys' : ''}: ${round1(m.runsPerS)} runs/s`);
      }
      await app.reset();
      const single = await measure(app, admin, SINGLE_N, () => startOneByOne(app, SINGLE_N));
      results.set('single', [...(results.get('single') ?? []), single]);
      note(`[start-many] round ${round + 1} start() one per call: ${round1(single.runsPerS)} runs/s`);
    }
  } finally {
    await app.reset().catch(() => undefined);
    await admin?.end();
    await app.close();
  }
  for (const variant of VARIANTS) {
    const ms = results.get(variant) ?? [];
    emit(figure(`runs_per_s_batch_${variant.batch}${variant.keys ? '_keyed' : ''}`, ms, TOTAL, { batch: variant.batch, idempotency_keys: variant.keys, rounds: ROUNDS }, '>=10000'));
  }
  emit(figure('runs_per_s_start_one_per_call', results.get('single') ?? [], SINGLE_N, { in_flight_starts: SINGLE_IN_FLIGHT, rounds: ROUNDS }));
}

function figure(metric: string, ms: Measurement[], n: number, params: Record<string, unknown> & { batch?: number }, target?: string) {
  const rates = ms.map((m) => m.runsPerS);
  const mid = [...ms].sort((a, b) => a.runsPerS - b.runsPerS)[Math.floor((ms.length - 1) / 2)];
  return {
    scenario: 'start-many',
    metric,
    value: median(rates),
    unit: 'runs/s',
    n,
    target,
    params: { workflow: '3 steps', ...params },
    detail: {
      per_round: rates.map((r) => round(r)),
      calls: params.batch === undefined ? n : Math.ceil(n / params.batch),
      statements: mid?.statements,
      cpu_ms_per_run: mid?.cpuMsPerRun,
      machine_busy_pct: mid?.machineBusyPct,
    },
  };
}

async function measure(app: BenchApp, admin: Client | undefined, n: number, work: () => Promise<unknown>): Promise<Measurement> {
  const meter = new CpuMeter(admin);
  await meter.start();
  app.probe.start();
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  const { records } = app.probe.stop();
  const cpu = await meter.stop();
  return {
    runsPerS: n / seconds,
    statements: countByName(records),
    cpuMsPerRun: { node: round(cpu.node_cpu_ms / n, 4), postgres: cpu.postgres_cpu_ms === undefined ? undefined : round(cpu.postgres_cpu_ms / n, 4) },
    machineBusyPct: cpu.machine_busy_pct === undefined ? undefined : round(cpu.machine_busy_pct),
  };
}

/** `total` runs in batches of `variant.batch`, one startMany at a time; keys unique per round so none is found taken. */
async function startBatches(app: BenchApp, variant: { batch: number; keys: boolean }, total: number, round: number): Promise<void> {
  for (let from = 0; from < total; from += variant.batch) {
    const items: Array<StartManyItem<{ n: number }, number>> = [];
    for (let n = from; n < Math.min(total, from + variant.batch); n++) {
      items.push({ workflow: ThreeStepWorkflow, input: { n }, options: variant.keys ? { idempotencyKey: `order-${round}-${n}` } : undefined });
    }
    const handles = await app.client.startMany(items);
    if (handles.length !== items.length) throw new Error(`startMany returned ${handles.length} handles for ${items.length} items`);
  }
}

async function startOneByOne(app: BenchApp, n: number): Promise<void> {
  let next = 0;
  const starter = async (): Promise<void> => {
    while (next < n) await app.client.start(ThreeStepWorkflow, { n: next++ });
  };
  await Promise.all(Array.from({ length: SINGLE_IN_FLIGHT }, starter));
}

const round1 = (value: number): number => round(value, 0);
