import { Context, Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { kagziTracer, TraceCarrier } from './kagzi-tracer';
import { ATTR, SPAN } from './trace-names';

/** The `kagzi.start` span of one `client.start()`; a no-op object when nothing records it. */
export interface StartTrace {
  /** The span's W3C context, stored with the run: every `kagzi.run` span of the run is its child. */
  readonly carrier: TraceCarrier | undefined;
  /** The version the run was pinned to, once the insert chose it. */
  version(version: number | null): void;
  /** Runs the insert with the span active, and ends the span when it settles. */
  around<T>(insert: () => Promise<T>): Promise<T>;
}

const UNTRACED: StartTrace = { carrier: undefined, version: () => undefined, around: (insert) => insert() };

class TracedStart implements StartTrace {
  readonly carrier: TraceCarrier | undefined;
  private readonly active: Context;

  constructor(private readonly span: Span) {
    this.active = trace.setSpan(context.active(), span);
    const carrier: TraceCarrier = {};
    propagation.inject(this.active, carrier);
    // No propagator registered: nothing to store, the run's spans start traces of their own.
    this.carrier = carrier.traceparent === undefined ? undefined : carrier;
  }

  version(version: number | null): void {
    if (version !== null) this.span.setAttribute(ATTR.version, version);
  }

  async around<T>(insert: () => Promise<T>): Promise<T> {
    try {
      return await context.with(this.active, insert);
    } catch (err: unknown) {
      if (err instanceof Error) this.span.recordException(err);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      this.span.end();
    }
  }
}

/**
 * Starts the `kagzi.start` span (kind PRODUCER) of a run, a child of the caller's active span. A span
 * that does not record but carries a valid context (sampled out) still propagates it, so the run's
 * spans follow the same sampling decision; with no SDK registered nothing is stored.
 */
export function startTrace(workflowName: string, runId: string, version?: number): StartTrace {
  const span = kagziTracer().startSpan(SPAN.start, { kind: SpanKind.PRODUCER });
  if (!span.isRecording() && !trace.isSpanContextValid(span.spanContext())) return UNTRACED;
  if (span.isRecording()) span.setAttributes({ [ATTR.runId]: runId, [ATTR.workflow]: workflowName, ...(version === undefined ? {} : { [ATTR.version]: version }) });
  return new TracedStart(span);
}
