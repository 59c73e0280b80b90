import { Injectable } from '@nestjs/common';
import { Step } from '@kagzi/nestjs';
import { randomUUID } from 'node:crypto';
import { simulateLatency } from './simulated-latency';

export interface SentMessage {
  messageId: string;
  to: string;
  subject: string;
}

/** A fake e-mail provider. */
@Injectable()
export class NotificationsService {
  @Step()
  async sendOrderReceived(customerId: string, orderId: string): Promise<SentMessage> {
    await simulateLatency();
    return { messageId: `msg_${randomUUID()}`, to: customerId, subject: `We received order ${orderId}` };
  }

  @Step()
  async sendConfirmation(customerId: string, orderId: string, trackingNumber: string): Promise<SentMessage> {
    await simulateLatency();
    return { messageId: `msg_${randomUUID()}`, to: customerId, subject: `Order ${orderId} is on its way (tracking ${trackingNumber})` };
  }
}
