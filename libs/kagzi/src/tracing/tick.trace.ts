import { ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, propagation, trace } from '@opentelemetry/api';
import { kagziTracer, TraceCarrier } from './kagzi-tracer';
import { ATTR, SPAN } from './trace-names';

/** The `kagzi.schedule.tick` span of one schedule's tick; a no-op object when nothing records it. */
export interface TickTrace {
  /** The span's W3C context, stored with the run the tick starts: that run's `kagzi.run` spans are its children. */
  readonly carrier: TraceCarrier | undefined;
  /**
   * Ends the span with what the tick statement did: `started` (with the run's id), `skipped` (the
   * previous run was in flight), `existing` (the tick's run was there already) or `none` (nothing was
   * due here: another process fired the tick, or this process's declaration is not the current one).
   */
  end(outcome: 'started' | 'skipped' | 'existing' | 'none', runId?: string): void;
  /** Ends the span as failed: the tick statement failed (it is retried, under new spans). */
  fail(err: unknown): void;
}

const UNTRACED: TickTrace = { carrier: undefined, end: () => undefined, fail: () => undefined };

class TracedTick implements TickTrace {
  readonly carrier: TraceCarrier | undefined;

  constructor(private readonly span: Span) {
    const carrier: TraceCarrier = {};
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
    // No propagator registered: nothing to store, the run's spans start traces of their own.
    this.carrier = carrier.traceparent === undefined ? undefined : carrier;
  }

  end(outcome: 'started' | 'skipped' | 'existing' | 'none', runId?: string): void {
    this.span.setAttribute(ATTR.outcome, outcome);
    if (runId !== undefined) this.span.setAttribute(ATTR.runId, runId);
    this.span.end();
  }

  fail(err: unknown): void {
    if (err instanceof Error) this.span.recordException(err);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    this.span.end();
  }
}

/**
 * Starts the `kagzi.schedule.tick` span (kind PRODUCER) of one schedule's tick: the root of a trace of
 * its own, since a tick has no caller (whatever context the timer inherited is ignored). Sampled out, it
 * still propagates its context, so the run's spans follow the same decision; with no SDK registered
 * nothing is stored and nothing but the no-op span is made.
 */
export function tickTrace(schedule: { name: string; version: number; cron: string; timezone: string; tick: Date }): TickTrace {
  const span = kagziTracer().startSpan(SPAN.scheduleTick, { kind: SpanKind.PRODUCER, root: true });
  if (!span.isRecording() && !trace.isSpanContextValid(span.spanContext())) return UNTRACED;
  if (span.isRecording()) {
    span.setAttributes({
      [ATTR.workflow]: schedule.name,
      [ATTR.version]: schedule.version,
      [ATTR.schedule]: schedule.cron,
      [ATTR.scheduleTimezone]: schedule.timezone,
      [ATTR.scheduledAt]: schedule.tick.toISOString(),
    });
  }
  return new TracedTick(span);
}
