import { Injectable } from '@nestjs/common';

/** What a third-party payments SDK throws: one class, the reason in `type`. Kagzi knows nothing about it. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly type: 'rate_limit' | 'card_declined',
    message: string,
  ) {
    super(message);
  }
}

export type Outcome = 'ok' | 'rate_limit' | 'card_declined' | 'timeout';

/**
 * A stand-in for the payment provider: each order answers from a script of outcomes, one per call
 * (the last one repeats), so the example and its test decide how flaky it is.
 */
@Injectable()
export class PaymentGateway {
  private readonly scripts = new Map<string, Outcome[]>();
  readonly calls: string[] = [];

  script(orderId: string, outcomes: Outcome[]): void {
    this.scripts.set(orderId, [...outcomes]);
  }

  async charge(orderId: string, cents: number): Promise<{ chargeId: string; cents: number }> {
    this.calls.push(orderId);
    const script = this.scripts.get(orderId) ?? ['ok'];
    const outcome = script.length > 1 ? script.shift()! : script[0];
    if (outcome === 'rate_limit') throw new GatewayError('rate_limit', 'too many requests');
    if (outcome === 'card_declined') throw new GatewayError('card_declined', 'the card was declined');
    if (outcome === 'timeout') throw Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
    return { chargeId: `ch_${orderId}_${this.calls.length}`, cents };
  }
}
