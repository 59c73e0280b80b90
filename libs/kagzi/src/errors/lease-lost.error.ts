import { KagziError } from './kagzi.error';

/** This worker no longer owns the run (its lease expired, it was cancelled or handed back); its writes are refused. */
export class LeaseLostError extends KagziError {
  /** Always `'KAGZI_LEASE_LOST'`. */
  readonly code = 'KAGZI_LEASE_LOST';
}
