import { Inject, Injectable } from '@nestjs/common';
import { ErrorKind, RetryPolicy, Step, TransientError } from '@kagzi/nestjs';
import { createHash, randomUUID } from 'node:crypto';
import { Payment } from './order.types';
import { simulateLatency } from './simulated-latency';

export const PAYMENT_GATEWAY_OPTIONS = Symbol('PAYMENT_GATEWAY_OPTIONS');

export interface PaymentGatewayOptions {
  /** Share of charges the fake gateway rejects as "unavailable", 0..1. */
  failureRate: number;
  /** Makes the failures reproducible: the same order fails the same way on every run with this seed. */
  seed: string;
}

export const PAYMENT_GATEWAY_UNAVAILABLE = 'PAYMENT_GATEWAY_UNAVAILABLE';

/** Reads DEMO_PAYMENT_FAILURE_RATE (default 0.2) and DEMO_SEED (default 'kagzi'). */
export function paymentGatewayOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): PaymentGatewayOptions {
  const raw = env.DEMO_PAYMENT_FAILURE_RATE ?? '0.2';
  const failureRate = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(failureRate) || failureRate < 0 || failureRate > 1) {
    throw new Error(`DEMO_PAYMENT_FAILURE_RATE must be a number between 0 and 1 (e.g. 0.05); got "${raw}"`);
  }
  return { failureRate, seed: env.DEMO_SEED ?? 'kagzi' };
}

/** A fake card gateway that is sometimes unavailable. */
@Injectable()
export class PaymentsService {
  private readonly attempts = new Map<string, number>();
  /** Charges the fake gateway turned down (each one retried by the step's policy). */
  simulatedOutages = 0;

  constructor(@Inject(PAYMENT_GATEWAY_OPTIONS) private readonly options: PaymentGatewayOptions) {}

  // A flaky gateway: retry with exponential back-off (100 ms, 200 ms, 400 ms, ... capped at 1 s).
  // Each attempt is recorded, and the run gives up its worker slot while it waits.
  @Step({ retry: RetryPolicy.exponential({ maxAttempts: 5, initialInterval: '100ms', maxInterval: '1s' }) })
  async charge(orderId: string, customerId: string, amountCents: number): Promise<Payment> {
    await simulateLatency();
    const attempt = (this.attempts.get(orderId) ?? 0) + 1;
    this.attempts.set(orderId, attempt);
    if (this.gatewayFails(`${orderId}:${attempt}`)) {
      this.simulatedOutages++;
      // Transient: the gateway may answer next time, so the policy above retries it.
      throw new TransientError('Payment gateway unavailable (simulated outage)', {
        kind: ErrorKind.ServiceUnavailable,
        code: PAYMENT_GATEWAY_UNAVAILABLE,
        context: { orderId, customerId, amountCents },
      });
    }
    return { paymentId: `pay_${randomUUID()}`, orderId, amountCents };
  }

  /** A seeded coin flip per (order, attempt): reproducible, and independent of which order the charges arrive in. */
  private gatewayFails(key: string): boolean {
    if (this.options.failureRate <= 0) return false;
    const digest = createHash('sha256').update(`${this.options.seed}:${key}`).digest();
    return digest.readUInt32BE(0) / 0x1_0000_0000 < this.options.failureRate;
  }
}
