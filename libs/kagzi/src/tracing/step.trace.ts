import { Span, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { StepError } from '../errors/step.error';
import { RunTrace, runTraceOf } from './run.trace';
import { ATTR, SPAN } from './trace-names';

/** The `kagzi.step` span of one attempt; a no-op object when the run is not traced. */
export interface AttemptSpan {
  /** Calls the step body with this span as the active context: a user's spans in the body nest under it. */
  run<T>(body: () => T): T;
  /** The attempt failed: its error kind, the delay before the next attempt if any, the exception, ERROR status. */
  failed(error: StepError, retryDelayMs?: number): void;
  end(): void;
}

const UNTRACED: AttemptSpan = { run: (body) => body(), failed: () => undefined, end: () => undefined };

class TracedAttempt implements AttemptSpan {
  constructor(
    private readonly traced: RunTrace,
    private readonly span: Span,
  ) {}

  run<T>(body: () => T): T {
    return context.with(trace.setSpan(this.traced.context, this.span), body);
  }

  failed(error: StepError, retryDelayMs?: number): void {
    this.span.setAttribute(ATTR.errorKind, error.kind);
    if (error.code !== undefined) this.span.setAttribute(ATTR.errorCode, error.code);
    if (retryDelayMs !== undefined) this.span.setAttribute(ATTR.retryDelayMs, Math.max(0, retryDelayMs));
    this.span.recordException(error);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  }

  end(): void {
    this.traced.endSpan(this.span);
  }
}

/** Starts the span of attempt `attempt` of the step at `key` in the run holding `lease` (a child of its run span). */
export function attemptSpan(lease: object, name: string, key: string, attempt: number): AttemptSpan {
  const traced = runTraceOf(lease);
  if (!traced) return UNTRACED;
  return new TracedAttempt(traced, traced.startSpan(SPAN.step, { [ATTR.step]: name, [ATTR.stepKey]: key, [ATTR.attempt]: attempt }));
}
