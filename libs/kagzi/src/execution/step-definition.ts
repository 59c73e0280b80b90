import { RetryPolicy } from './retry-policy';
import type { IsolationLevel } from '../persistence/step-transactions';

/** A `@Step` method as the executor sees it: options resolved at bootstrap. */
export interface StepDefinition {
  name: string;
  /** The name its key is counted under, when several calls share one sequence (ctx.now and ctx.uuid). */
  keyName?: string;
  retry?: RetryPolicy;
  timeoutMs?: number;
  /** `@Step({ transactional: true })`: the body and the record share one transaction at this isolation level. */
  transactional?: { isolation: IsolationLevel };
}
