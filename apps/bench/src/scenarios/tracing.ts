import { performance } from 'node:perf_hooks';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { BenchApp, bootBenchApp } from '../bench-app';
import { emit, median, note, round, summarize } from '../report';
import { ScenarioContext } from '../scenario';
import { ThreeStepWorkflow } from '../workflows';

type Variant = 'off' | 'on';

interface Round {
  variant: Variant;
  workflowsPerS: number;
  p50Ms: number;
  spans: number;
}

/**
 * What OpenTelemetry costs: the 3-step workflow with no SDK registered (the API's no-op tracer and
 * instruments) vs with one registered as an app would (tracer provider, BatchSpanProcessor into an
 * in-memory exporter, AsyncLocalStorage context manager, W3C propagator; a meter provider whose periodic
 * reader exports every 5 s, so the backlog gauge's statement runs too), in one app, rounds alternating
 * off/on then on/off so drift cancels. Each round: `tracingN` runs fired 64 at a time (workflows/s),
 * then `tracingLatencyN` runs one at a time (p50 of start() → result()). The cost reported is the median
 * over rounds of each round's paired difference (SDK vs no SDK measured back to back).
 */
export async function runTracing(ctx: ScenarioContext): Promise<void> {
  const { tracingN: n, tracingLatencyN: latencyN, tracingRounds: rounds } = ctx.config;
  const app = await bootBenchApp(ctx.target, { concurrency: 10 });
  const rows: Round[] = [];
  try {
    await app.reset();
    for (const variant of ['off', 'on'] as const) await measure(app, variant, Math.min(200, n), 20); // warm both paths
    for (let r = 0; r < rounds; r++) {
      for (const variant of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        await app.reset();
        const row = await measure(app, variant, n, latencyN);
        rows.push(row);
        note(`[tracing] round ${r + 1} ${variant}: ${round(row.workflowsPerS)} workflows/s, p50 ${round(row.p50Ms)} ms, ${row.spans} spans`);
      }
    }
  } finally {
    await app.close();
  }
  const of = (v: Variant): Round[] => rows.filter((r) => r.variant === v);
  // Each round's two measurements ran back to back: their ratio cancels the drift a shared machine adds.
  const paired = (key: 'workflowsPerS' | 'p50Ms', sign: 1 | -1): number[] =>
    of('off').map((off, i) => (sign * 100 * (off[key] - of('on')[i][key])) / off[key]);
  const tput = { off: median(of('off').map((r) => r.workflowsPerS)), on: median(of('on').map((r) => r.workflowsPerS)) };
  const p50 = { off: median(of('off').map((r) => r.p50Ms)), on: median(of('on').map((r) => r.p50Ms)) };
  const params = { workflow: '3 steps', worker_concurrency: 10, in_flight: 64, rounds };
  const perRound = (key: 'workflowsPerS' | 'p50Ms'): Record<Variant, number[]> => ({ off: of('off').map((r) => round(r[key])), on: of('on').map((r) => round(r[key])) });
  emit({ scenario: 'tracing', metric: 'workflows_per_s_no_sdk', value: tput.off, unit: 'workflows/s', n, params });
  emit({ scenario: 'tracing', metric: 'workflows_per_s_sdk', value: tput.on, unit: 'workflows/s', n, params, detail: { spans_per_run: round(median(of('on').map((r) => r.spans)) / (n + latencyN)) } });
  emit({
    scenario: 'tracing', metric: 'throughput_cost_pct', value: median(paired('workflowsPerS', 1)), unit: '%', target: '<=10', params,
    detail: { ...perRound('workflowsPerS'), paired_pct: paired('workflowsPerS', 1).map((v) => round(v, 1)), of_medians_pct: round((100 * (tput.off - tput.on)) / tput.off, 1) },
  });
  emit({ scenario: 'tracing', metric: 'p50_ms_no_sdk', value: p50.off, unit: 'ms', n: latencyN, params });
  emit({ scenario: 'tracing', metric: 'p50_ms_sdk', value: p50.on, unit: 'ms', n: latencyN, params });
  emit({
    scenario: 'tracing', metric: 'p50_cost_pct', value: median(paired('p50Ms', -1)), unit: '%', target: '<=10', params,
    detail: { ...perRound('p50Ms'), paired_pct: paired('p50Ms', -1).map((v) => round(v, 1)), of_medians_pct: round((100 * (p50.on - p50.off)) / p50.off, 1) },
  });
}

async function measure(app: BenchApp, variant: Variant, n: number, latencyN: number): Promise<Round> {
  const exporter = new InMemorySpanExporter();
  const provider = variant === 'on' ? register(exporter) : undefined;
  const meters = variant === 'on' ? registerMetrics() : undefined;
  try {
    const workflowsPerS = await throughput(app, n, 64);
    const latencies: number[] = [];
    for (let i = 0; i < latencyN; i++) {
      const t0 = performance.now();
      await (await app.client.start(ThreeStepWorkflow, { n: i })).result();
      latencies.push(performance.now() - t0);
    }
    await provider?.forceFlush();
    return { variant, workflowsPerS, p50Ms: summarize(latencies).p50, spans: exporter.getFinishedSpans().length };
  } finally {
    await provider?.shutdown();
    await meters?.shutdown();
    metrics.disable();
    trace.disable();
    context.disable();
    propagation.disable();
  }
}

/** The SDK as an app's main.ts registers it, with the batch processor's defaults. */
function register(exporter: InMemorySpanExporter): BasicTracerProvider {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  return provider;
}

/** A meter provider exporting every 5 s (the SDK's default interval) into memory. */
function registerMetrics(): MeterProvider {
  const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 5_000 });
  const provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
  return provider;
}

/** `n` runs, at most `inFlight` start() calls outstanding, every result awaited: n / elapsed seconds. */
async function throughput(app: BenchApp, n: number, inFlight: number): Promise<number> {
  const results: Array<Promise<unknown>> = [];
  let next = 0;
  const t0 = performance.now();
  const starter = async (): Promise<void> => {
    while (next < n) {
      const handle = await app.client.start(ThreeStepWorkflow, { n: next++ });
      const result = handle.result();
      result.catch(() => undefined); // awaited below
      results.push(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, starter));
  await Promise.all(results);
  return n / ((performance.now() - t0) / 1000);
}
