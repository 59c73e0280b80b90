import { SetMetadata } from '@nestjs/common';
import { Duration } from '../common/duration';
import { RetryPolicy } from '../execution/retry-policy';
import { STEP_METADATA } from '../kagzi.constants';
import type { IsolationLevel } from '../persistence/step-transactions';

/** What `@Step()` takes; every field is optional. */
export interface StepOptions {
  /** Default `${Class}.${method}`. */
  name?: string;
  /** How failed attempts are retried. Default: the module's `defaultRetry` (itself `RetryPolicy.none()` by default). */
  retry?: RetryPolicy;
  /** Each attempt fails with a TransientError of kind TIMEOUT (code `KAGZI_STEP_TIMEOUT`) after this long, and its `stepSignal()` aborts. Default: none. */
  timeout?: Duration;
  /**
   * The body runs in a transaction on Kagzi's database (`stepTransaction()` is its EntityManager), and the
   * step's record commits in that same transaction: its database writes happen exactly once, even across
   * crashes and retries. Default false. See docs/transactions.md.
   */
  transactional?: boolean;
  /** With `transactional`: the transaction's isolation level. Default 'READ COMMITTED'. */
  isolation?: IsolationLevel;
}

/**
 * Marks a provider method as a durable step. Inside a running workflow the call is recorded and
 * memoized; anywhere else it is a plain call. Checked at boot: an invalid name, `timeout` or
 * `transactional`/`isolation` is an InvalidOptionsError.
 */
export function Step(options: StepOptions = {}): MethodDecorator {
  return SetMetadata(STEP_METADATA, options);
}
