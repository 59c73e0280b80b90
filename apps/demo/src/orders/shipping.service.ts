import { Injectable } from '@nestjs/common';
import { Step } from '@kagzi/nestjs';
import { randomBytes, randomUUID } from 'node:crypto';
import { OrderItem, Shipment } from './order.types';
import { simulateLatency } from './simulated-latency';

const CARRIERS = ['DHL', 'UPS', 'FEDEX'] as const;

/** A fake carrier API. */
@Injectable()
export class ShippingService {
  @Step()
  async createShipment(orderId: string, customerId: string, items: OrderItem[]): Promise<Shipment> {
    await simulateLatency();
    const parcels = items.reduce((n, item) => n + item.qty, 0);
    const carrier = CARRIERS[parcels % CARRIERS.length];
    return {
      shipmentId: `shp_${randomUUID()}`,
      trackingNumber: `${carrier}${randomBytes(5).toString('hex').toUpperCase()}`,
      carrier,
      reference: `${customerId}/${orderId}`,
    };
  }
}
