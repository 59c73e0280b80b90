import { RetryPolicy } from './retry-policy';

/** A `@Step` method as the executor sees it: options resolved at bootstrap. */
export interface StepDefinition {
  name: string;
  retry?: RetryPolicy;
  timeoutMs?: number;
}
