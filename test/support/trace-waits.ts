/** Waiting for spans in the tracing specs: span ends trail a run's end by a moment. */
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { FlatSpan, flatten } from '../fixtures/trace-sdk';
import { waitFor } from './app';

/** The finished spans of one trace, flattened. */
export function spansOfTrace(exporter: InMemorySpanExporter, traceId: string): FlatSpan[] {
  return exporter.getFinishedSpans().map(flatten).filter((s) => s.traceId === traceId);
}

/** The spans of the trace once `done` holds for them. */
export function settledTrace(exporter: InMemorySpanExporter, traceId: string, done: (spans: FlatSpan[]) => boolean): Promise<FlatSpan[]> {
  return waitFor(`the spans of trace ${traceId}`, () => {
    const spans = spansOfTrace(exporter, traceId);
    return done(spans) ? spans : undefined;
  });
}

/** A `done` for settledTrace: the run's segment that completed it has ended. */
export const runEnded = (runId: string) => (spans: FlatSpan[]): boolean =>
  spans.some((s) => s.name === 'kagzi.run' && s.attributes['kagzi.run_id'] === runId && s.attributes['kagzi.outcome'] === 'completed');
