import 'reflect-metadata';
// First: the SDK is registered before Nest and Kagzi are loaded.
import { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { PullMetricReader, registerTelemetry } from './telemetry';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { trace } from '@opentelemetry/api';
import { DataPoint } from '@opentelemetry/sdk-metrics';
import { KagziModule, WorkflowClient } from '@kagzi/nestjs';
import { ObservabilityModule } from './observability.module';
import { WarehouseService } from './report.services';
import { StockReportWorkflow } from './stock-report.workflow';

const spans = new InMemorySpanExporter(); // an OTLP exporter in a real app
const reader = new PullMetricReader(); // a Prometheus exporter or a PeriodicExportingMetricReader in a real app
const telemetry = registerTelemetry(spans, reader);

@Module({ imports: [KagziModule.forRoot(), ObservabilityModule] }) // DATABASE_URL, else an embedded PostgreSQL
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['log', 'warn', 'error'] });
  try {
    app.get(WarehouseService).failuresLeft = 1; // one failed attempt, retried 1 s later: two segments of the run
    // The caller's span (an HTTP request in a real app) becomes the root of the run's trace.
    const result = await trace.getTracer('example').startActiveSpan('POST /reports', async (span) => {
      try {
        const handle = await app.get(WorkflowClient).start(StockReportWorkflow, { warehouse: 'berlin-1' });
        return await handle.result({ timeout: '1m' });
      } finally {
        span.end();
      }
    });
    console.log('result:', result);
    printTree(spans.getFinishedSpans());
    const { resourceMetrics } = await reader.collect();
    for (const metric of resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)) {
      if (!['kagzi.runs.finished', 'kagzi.steps.attempts'].includes(metric.descriptor.name)) continue;
      for (const point of metric.dataPoints as DataPoint<number>[]) console.log(`${metric.descriptor.name} ${JSON.stringify(point.attributes)} ${point.value}`);
    }
  } finally {
    await app.close();
    await telemetry.shutdown();
  }
}

function printTree(all: ReadableSpan[]): void {
  const ids = new Set(all.map((s) => s.spanContext().spanId));
  const walk = (parent: string | undefined, depth: number): void => {
    for (const s of all.filter((x) => (x.parentSpanContext && ids.has(x.parentSpanContext.spanId) ? x.parentSpanContext.spanId : undefined) === parent)) {
      const attrs = ['kagzi.step', 'kagzi.attempt', 'kagzi.outcome', 'kagzi.error.kind'].filter((k) => s.attributes[k] !== undefined).map((k) => `${k}=${String(s.attributes[k])}`);
      console.log(`${'  '.repeat(depth)}${s.name} ${attrs.join(' ')}`);
      walk(s.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
