import { Attributes, Context, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { kagziTracer, TraceCarrier } from './kagzi-tracer';
import { ATTR, SPAN } from './trace-names';

/** What a run trace needs of a claim (ClaimedRun), with the lease as the segment's identity. */
export interface TracedClaim {
  lease: { runId: string; owner: string; epoch: number };
  workflowName: string;
  version: number;
  traceContext?: TraceCarrier;
}

/**
 * The trace of one segment of a run in this worker: its `kagzi.run` span (a child of the context stored
 * with the run, so every segment joins the starter's trace) and the spans opened under it. A span still
 * open when the segment stops (a sleep that parked the run, an attempt cut by a lost lease) ends with it.
 */
export class RunTrace {
  /** The run span's context: the parent of the segment's spans and the active context of the workflow code. */
  readonly context: Context;
  private readonly open = new Set<Span>();
  private readonly base: Attributes;

  constructor(
    private readonly span: Span,
    parent: Context,
    claim: TracedClaim,
  ) {
    this.context = trace.setSpan(parent, span);
    this.base = { [ATTR.runId]: claim.lease.runId, [ATTR.workflow]: claim.workflowName, [ATTR.version]: claim.version };
    span.setAttributes({ ...this.base, [ATTR.epoch]: claim.lease.epoch, [ATTR.worker]: claim.lease.owner });
  }

  /** Starts a span under the run span (the segment ends it if it is still open then). */
  startSpan(name: string, attributes: Attributes): Span {
    const span = kagziTracer().startSpan(name, { attributes: { ...this.base, ...attributes } }, this.context);
    this.open.add(span);
    return span;
  }

  endSpan(span: Span): void {
    if (this.open.delete(span)) span.end();
  }

  /** The W3C context of `span` (under this run), for a run started from it (a child). */
  carrierOf(span: Span): TraceCarrier {
    const carrier: TraceCarrier = {};
    propagation.inject(trace.setSpan(this.context, span), carrier);
    return carrier;
  }

  /** The run ended in this segment: COMPLETED, FAILED (with its error) or CANCELLED. */
  ended(status: string, error?: Error): void {
    this.span.setAttribute(ATTR.outcome, status.toLowerCase());
    if (!error) return;
    this.span.recordException(error);
    if ('kind' in error) this.span.setAttribute(ATTR.errorKind, String(error.kind));
    if (status === 'FAILED') this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  }

  /** The segment stopped here: the run ended (above), or was parked, lost, or continued as new. */
  stop(kind: string): void {
    if (kind !== 'finished') this.span.setAttribute(ATTR.outcome, kind);
    for (const span of this.open) {
      span.setAttribute(ATTR.segmentEnd, kind);
      span.end();
    }
    this.open.clear();
    this.span.end();
  }
}

/** Segments traced in this process, by their lease (the same object the run's execution carries). */
const traces = new WeakMap<object, RunTrace>();

/**
 * Starts the `kagzi.run` span of a claimed segment; undefined when nothing records it (no SDK
 * registered, or sampled out), so an untraced run costs one no-op span and no more.
 */
export function beginRunTrace(claim: TracedClaim): RunTrace | undefined {
  const parent = claim.traceContext ? propagation.extract(ROOT_CONTEXT, claim.traceContext) : ROOT_CONTEXT;
  const span = kagziTracer().startSpan(SPAN.run, { kind: SpanKind.CONSUMER }, parent);
  if (!span.isRecording()) return undefined;
  const traced = new RunTrace(span, parent, claim);
  traces.set(claim.lease, traced);
  return traced;
}

/** The trace of the segment holding `lease`, if it is traced. */
export function runTraceOf(lease: object): RunTrace | undefined {
  return traces.get(lease);
}

/** Runs `fn` (the workflow code) with the run span as the active context, so user spans there nest under it. */
export function inRunContext<T>(lease: object, fn: () => T): T {
  const traced = traces.get(lease);
  return traced ? context.with(traced.context, fn) : fn();
}

/** Ends the segment's trace when `done` settles with how the segment stopped. */
export function traceSegment<S extends 'finished' | { kind: string }>(lease: object, done: Promise<S>): Promise<S> {
  const traced = traces.get(lease);
  if (!traced) return done;
  return done.then((stop) => {
    traced.stop(stop === 'finished' ? 'finished' : (stop as { kind: string }).kind);
    traces.delete(lease);
    return stop;
  });
}

/** Notes how the run ended on its segment's span. */
export function traceRunEnd(lease: object, status: string, error?: Error | null): void {
  traces.get(lease)?.ended(status, error ?? undefined);
}
