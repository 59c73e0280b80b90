import { Injectable } from '@nestjs/common';
import { Step } from '@kagzi/nestjs';
import { randomUUID } from 'node:crypto';
import { OrderItem, Reservation } from './order.types';
import { simulateLatency } from './simulated-latency';

/** A fake warehouse-management API. */
@Injectable()
export class InventoryService {
  // Keyed by order id: a step may run again if its worker dies before committing, so reserving twice must not double-book.
  private readonly reservations = new Map<string, Reservation>();

  @Step()
  async reserve(orderId: string, items: OrderItem[]): Promise<Reservation> {
    await simulateLatency();
    const existing = this.reservations.get(orderId);
    if (existing) return existing;
    const reservation: Reservation = { reservationId: `res_${randomUUID()}`, orderId, skus: items.map((i) => i.sku) };
    this.reservations.set(orderId, reservation);
    return reservation;
  }

  /** Compensation: gives the stock back when the order cannot go ahead. */
  @Step()
  async release(reservationId: string): Promise<{ released: boolean }> {
    await simulateLatency();
    for (const [orderId, reservation] of this.reservations) {
      if (reservation.reservationId === reservationId) return { released: this.reservations.delete(orderId) };
    }
    return { released: false };
  }
}
