/**
 * apps/examples/observability: the real OpenTelemetry SDK registered before the app (tracer and meter
 * providers, context manager, propagator), then a run with a retried step: its span tree under the caller's
 * span with the user's own span inside the step, the counters, and ctx.logger's lines written once.
 */
import { ConsoleLogger } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { DataPoint } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { KagziTesting } from '@kagzi/nestjs/testing';
import { ObservabilityModule } from '../../apps/examples/observability/src/observability.module';
import { WarehouseService } from '../../apps/examples/observability/src/report.services';
import { StockReportWorkflow } from '../../apps/examples/observability/src/stock-report.workflow';
import { PullMetricReader, registerTelemetry, Telemetry } from '../../apps/examples/observability/src/telemetry';
import { createTestDatabase, TestDatabase } from '../support/database';

const spans = new InMemorySpanExporter();
const reader = new PullMetricReader();
const lines: string[] = [];

/** Nest's logger, keeping the lines the workflow writes (their context is the workflow's name). */
class CapturingLogger extends ConsoleLogger {
  override log(message: unknown, context?: string): void {
    if (context === 'example-stock-report') lines.push(String(message));
  }
}

let telemetry: Telemetry;
let db: TestDatabase;
let kt: KagziTesting;

beforeAll(async () => {
  telemetry = registerTelemetry(spans, reader); // as main.ts does: the SDK before the app
  db = await createTestDatabase('example_observability');
  kt = await KagziTesting.create({ imports: [ObservabilityModule], options: { database: { url: db.url } } });
  kt.app.useLogger(new CapturingLogger());
});

afterAll(async () => {
  await kt?.close();
  await telemetry?.shutdown();
  await db?.drop();
});

test('a run with a retried step: one trace under the caller, its counters, and each log line once', async () => {
  kt.app.get(WarehouseService).failuresLeft = 1;
  const { handle, traceId } = await trace.getTracer('test').startActiveSpan('POST /reports', async (span) => {
    try {
      return { handle: await kt.client.start(StockReportWorkflow, { warehouse: 'b1' }), traceId: span.spanContext().traceId };
    } finally {
      span.end();
    }
  });
  await kt.waitForStatus(handle, 'SLEEPING'); // the back-off after the failed attempt
  await kt.clock.advance('1s');
  await expect(handle.result({ timeout: '5s' })).resolves.toBe('report b1: 120 units');

  // traces: spans end a moment after the run does
  const ofRun = (): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.attributes['kagzi.run_id'] === handle.runId || s.spanContext().traceId === traceId);
  await waitFor(
    () => ofRun().filter((s) => s.name === 'kagzi.run').length === 2,
    () => `spans so far: ${JSON.stringify(spans.getFinishedSpans().map((s) => [s.name, s.spanContext().traceId, s.attributes['kagzi.run_id']]))}, caller's trace ${traceId}`,
  );
  const all = ofRun();
  const byId = new Map(all.map((s) => [s.spanContext().spanId, s]));
  const parentName = (s: ReadableSpan) => (s.parentSpanContext ? byId.get(s.parentSpanContext.spanId)?.name : undefined);
  expect(new Set(all.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId])); // one trace, the caller's
  const start = all.find((s) => s.name === 'kagzi.start')!;
  expect(parentName(start)).toBe('POST /reports');
  const segments = all.filter((s) => s.name === 'kagzi.run');
  expect(segments.map((s) => [parentName(s), s.attributes['kagzi.outcome']])).toEqual([
    ['kagzi.start', 'suspended'],
    ['kagzi.start', 'completed'],
  ]);
  const steps = all.filter((s) => s.name === 'kagzi.step').map((s) => [s.attributes['kagzi.step'], s.attributes['kagzi.attempt'], s.attributes['kagzi.error.kind'] ?? 'ok']);
  expect(steps).toEqual([
    ['WarehouseService.stockLevels', 1, 'SERVICE_UNAVAILABLE'],
    ['WarehouseService.stockLevels', 2, 'ok'],
    ['WarehouseService.publish', 1, 'ok'],
  ]);
  expect(all.filter((s) => s.name === 'warehouse.http').map(parentName)).toEqual(['kagzi.step', 'kagzi.step']);

  // metrics
  const points = await collect();
  const value = (name: string, where: Record<string, unknown>) =>
    points.filter((p) => p.name === name && Object.entries(where).every(([k, v]) => p.attributes[k] === v)).reduce((sum, p) => sum + p.value, 0);
  expect(value('kagzi.runs.started', { 'kagzi.workflow': 'example-stock-report' })).toBe(1);
  expect(value('kagzi.runs.finished', { 'kagzi.workflow': 'example-stock-report', 'kagzi.status': 'COMPLETED' })).toBe(1);
  expect(value('kagzi.steps.attempts', { 'kagzi.step': 'WarehouseService.stockLevels', 'kagzi.outcome': 'retried', 'kagzi.error.kind': 'SERVICE_UNAVAILABLE' })).toBe(1);
  expect(value('kagzi.steps.attempts', { 'kagzi.step': 'WarehouseService.stockLevels', 'kagzi.outcome': 'completed' })).toBe(1);

  // logs: the first line is not written again when the second segment re-runs the code from the top
  expect(lines).toEqual([`Run ${handle.runId} (example-stock-report v1): building the stock report of b1`, `Run ${handle.runId} (example-stock-report v1): b1 has 120 units`]);
});

async function collect(): Promise<Array<{ name: string; attributes: Record<string, unknown>; value: number }>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.flatMap((metric) =>
      (metric.dataPoints as Array<DataPoint<unknown>>).filter((p) => typeof p.value === 'number').map((p) => ({ name: metric.descriptor.name, attributes: { ...p.attributes }, value: p.value as number })),
    ),
  );
}

async function waitFor(check: () => boolean, explain: () => string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met in time: ${explain()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
