import { Attributes, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { TraceCarrier } from './kagzi-tracer';
import { runTraceOf } from './run.trace';

/** What a traced operation can ask of its span. */
export interface OperationSpan {
  /** The span's W3C context, to store with a run started from here (a child); undefined when untraced. */
  carrier(): TraceCarrier | undefined;
}

const UNTRACED: OperationSpan = { carrier: () => undefined };

/**
 * Runs a durable operation (a sleep, a signal wait, a child's start) of the run holding `lease` in a span
 * `name` under its run span. The span ends when `fn` settles; one that never does (the run was parked
 * there) ends with the segment. `attributes` is called only when the run is traced.
 */
export function traced<T>(lease: object, name: string, attributes: () => Attributes, fn: (span: OperationSpan) => Promise<T>): Promise<T> {
  const run = runTraceOf(lease);
  if (!run) return fn(UNTRACED);
  const span = run.startSpan(name, attributes());
  const handle: OperationSpan = { carrier: () => run.carrierOf(span) };
  return context.with(trace.setSpan(run.context, span), () => fn(handle)).then(
    (value) => {
      run.endSpan(span);
      return value;
    },
    (err: unknown) => {
      if (err instanceof Error) span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      run.endSpan(span);
      throw err;
    },
  );
}
