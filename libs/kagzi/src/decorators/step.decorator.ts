import { SetMetadata } from '@nestjs/common';
import { Duration } from '../common/duration';
import { RetryPolicy } from '../execution/retry-policy';
import { STEP_METADATA } from '../kagzi.constants';

export interface StepOptions {
  /** Default `${Class}.${method}`. */
  name?: string;
  retry?: RetryPolicy;
  timeout?: Duration;
}

/**
 * Marks a provider method as a durable step. Inside a running workflow the call is recorded and
 * memoized; anywhere else it is a plain call.
 */
export function Step(options: StepOptions = {}): MethodDecorator {
  return SetMetadata(STEP_METADATA, options);
}
