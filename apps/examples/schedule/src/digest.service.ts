import { Injectable } from '@nestjs/common';
import { Step } from '@kagzi/nestjs';

@Injectable()
export class DigestService {
  readonly sent: string[] = [];

  /** The day's activity before the tick: the tick, not the time the run happened to start, is the cut-off. */
  @Step()
  async collect(until: string): Promise<{ until: string; orders: number }> {
    return { until, orders: 42 };
  }

  @Step()
  async send(day: string, orders: number): Promise<string> {
    this.sent.push(day);
    return `digest for ${day}: ${orders} orders`;
  }
}
