import { Tracer, trace } from '@opentelemetry/api';
import { KAGZI_VERSION } from '../kagzi.constants';

/** A W3C trace context as the propagator writes it (`traceparent`, `tracestate`, baggage), stored with a run. */
export type TraceCarrier = Record<string, string>;

/**
 * Kagzi's tracer, asked of the global provider at each use rather than kept: a tracer obtained before
 * an SDK is registered (or after one is replaced) would keep delegating to the old one.
 */
export function kagziTracer(): Tracer {
  return trace.getTracer('kagzi', KAGZI_VERSION);
}
