import { Injectable } from '@nestjs/common';
import { ErrorKind, PermanentError, Step, stepTransaction } from '@kagzi/nestjs';
import { randomUUID } from 'node:crypto';
import { StockLevel, StockReservation } from '../database/stock.entity';
import { OrderItem, Reservation } from './order.types';

export const OUT_OF_STOCK = 'OUT_OF_STOCK';

/**
 * The warehouse's stock, in the app's own tables. Both steps are transactional: their writes and the
 * step's completion record commit together, so a reservation is taken (or given back) exactly once even if
 * the worker dies between the UPDATE and the record (docs/transactions.md).
 */
@Injectable()
export class InventoryService {
  @Step({ transactional: true })
  async reserve(orderId: string, items: OrderItem[]): Promise<Reservation> {
    const tx = stepTransaction();
    const wanted = mergeLines(items);
    for (const { sku, qty } of wanted) {
      const taken = await tx
        .createQueryBuilder()
        .update(StockLevel)
        .set({ available: () => `available - ${qty}` })
        .where('sku = :sku AND available >= :qty', { sku, qty })
        .execute();
      // Rolls back the units already taken above, with the rest of the step's transaction.
      if (taken.affected !== 1) {
        throw new PermanentError(`Not enough ${sku} in stock for order ${orderId} (wanted ${qty})`, {
          kind: ErrorKind.BusinessLogicError,
          code: OUT_OF_STOCK,
          context: { orderId, sku, qty },
        });
      }
    }
    const reservation: Reservation = { reservationId: `res_${randomUUID()}`, orderId, skus: wanted.map((l) => l.sku) };
    await tx.insert(StockReservation, { reservationId: reservation.reservationId, orderId, items: wanted });
    return reservation;
  }

  /** Compensation: gives the stock back when the order cannot go ahead. */
  @Step({ transactional: true })
  async release(reservationId: string): Promise<{ released: boolean }> {
    const tx = stepTransaction();
    const held = await tx.findOneBy(StockReservation, { reservationId });
    if (!held) return { released: false };
    for (const { sku, qty } of held.items) {
      await tx.increment(StockLevel, { sku }, 'available', qty);
    }
    await tx.delete(StockReservation, { reservationId });
    return { released: true };
  }
}

/** One line per SKU (an order may list a SKU twice), in SKU order so concurrent reservations lock rows alike. */
function mergeLines(items: readonly OrderItem[]): Array<{ sku: string; qty: number }> {
  const bySku = new Map<string, number>();
  for (const item of items) bySku.set(item.sku, (bySku.get(item.sku) ?? 0) + item.qty);
  return [...bySku].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sku, qty]) => ({ sku, qty }));
}
