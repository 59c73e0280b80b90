import { Injectable } from '@nestjs/common';
import { ErrorKind, PermanentError, RetryPolicy, Step } from '@kagzi/nestjs';
import { PaymentGateway } from './payment-gateway';

/** The step: a charge retried with exponential back-off (1 s, 2 s, 4 s, 8 s), only for retryable kinds. */
@Injectable()
export class PaymentsService {
  constructor(private readonly gateway: PaymentGateway) {}

  @Step({ retry: RetryPolicy.exponential({ maxAttempts: 5, initialInterval: '1s', multiplier: 2, jitter: 0, retryOn: 'retryable' }) })
  async charge(orderId: string, cents: number): Promise<{ chargeId: string; cents: number }> {
    // Our own rule, thrown as a PermanentError: never retried, whatever the policy says.
    if (cents <= 0) throw new PermanentError(`amount must be positive, got ${cents}`, { kind: ErrorKind.InvalidInput, code: 'BAD_AMOUNT', context: { orderId } });
    return this.gateway.charge(orderId, cents);
  }
}
