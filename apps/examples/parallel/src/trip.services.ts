import { Injectable } from '@nestjs/common';
import { ErrorKind, PermanentError, Step, stepSignal } from '@kagzi/nestjs';

@Injectable()
export class BookingService {
  @Step()
  async bookFlight(tripId: string): Promise<string> {
    return `FL-${tripId}`;
  }

  @Step()
  async bookHotel(tripId: string): Promise<string> {
    return `HT-${tripId}`;
  }
}

export interface Quote {
  provider: string;
  cents: number;
}

/**
 * Quotes from outside providers, each as slow as `latencyMs` says ('never': it does not answer). The wait
 * follows stepSignal(), so a race's loser stops at once when the winner is recorded.
 */
@Injectable()
export class QuoteService {
  readonly latencyMs: Record<string, number | 'never'> = { 'taxi-a': 200, 'taxi-b': 10, insurer: 10 };
  readonly aborted: string[] = [];

  @Step()
  async quote(provider: string, tripId: string): Promise<Quote> {
    const latency = this.latencyMs[provider] ?? 0;
    const signal = stepSignal();
    await new Promise<void>((resolve, reject) => {
      const timer = latency === 'never' ? undefined : setTimeout(resolve, latency);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        this.aborted.push(provider);
        reject(new Error(`${provider}: quote for ${tripId} abandoned`));
      }, { once: true });
    });
    return { provider, cents: provider.length * 1000 };
  }
}

@Injectable()
export class NotificationService {
  readonly down = new Set<string>();

  @Step()
  async send(channel: string, tripId: string): Promise<string> {
    if (this.down.has(channel)) throw new PermanentError(`${channel} is down`, { kind: ErrorKind.ServiceUnavailable, code: 'CHANNEL_DOWN' });
    return `${channel}:${tripId}`;
  }
}
