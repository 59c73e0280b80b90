import { ErrorKind } from '@kagzi/nestjs';
import { GatewayError } from './payment-gateway';

/**
 * The module's `classifyError` hook: consulted before Kagzi's built-in rules, it tells Kagzi what the
 * SDK's own error class means. A declined card is a business outcome (never retried); a rate limit is
 * worth another attempt. Anything else falls through to the built-in rules (undefined).
 */
export function classifyGatewayError(err: unknown): ErrorKind | undefined {
  if (!(err instanceof GatewayError)) return undefined;
  return err.type === 'rate_limit' ? ErrorKind.RateLimited : ErrorKind.BusinessLogicError;
}
