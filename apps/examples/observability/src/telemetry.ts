import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor, SpanExporter } from '@opentelemetry/sdk-trace-base';

export interface Telemetry {
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  /** Flushes and unregisters everything (the API falls back to its no-op implementations). */
  shutdown(): Promise<void>;
}

/**
 * Registers the OpenTelemetry SDK globally, as an app does before Nest and Kagzi load: Kagzi talks to
 * `@opentelemetry/api` only and finds whatever is registered there. The context manager carries the active
 * span across awaits (so your spans nest under Kagzi's step spans); the propagator lets a run's stored trace
 * context join the caller's trace in whichever process claims it. A real app would export with OTLP
 * (`BatchSpanProcessor` + `OTLPTraceExporter`, `PeriodicExportingMetricReader`): see docs/observability.md.
 */
export function registerTelemetry(spanExporter: SpanExporter, metricReader: MetricReader): Telemetry {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  trace.setGlobalTracerProvider(tracerProvider);
  const meterProvider = new MeterProvider({ readers: [metricReader] });
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    tracerProvider,
    meterProvider,
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      trace.disable();
      metrics.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** A pull reader: main.ts (or a test) collects when it wants to look. A Prometheus exporter is one too. */
export class PullMetricReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}
