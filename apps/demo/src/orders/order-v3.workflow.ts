import { ErrorKind, PermanentError, Workflow, WorkflowContext } from '@kagzi/nestjs';
import { OrderWorkflowV2 } from './order-v2.workflow';
import { OrderInput, OrderItem, Shipment } from './order.types';
import { ShipmentWorkflow } from './shipment.workflow';

/** The signal the payment provider's webhook (or the demo driver) sends when the customer has paid. */
export const PAYMENT_CONFIRMED = 'payment-confirmed';
/** How long an order waits for its payment. Short, so the demo shows an unpaid order being cancelled. */
export const PAYMENT_WINDOW = '2s';
export const ORDER_UNPAID = 'ORDER_UNPAID';

export interface PaymentConfirmation {
  method: string;
}

/** At most this many units go in one parcel. */
const UNITS_PER_PARCEL = 4;

/**
 * Version 3 of 'order-fulfilment': version 2, and before charging it waits for the `payment-confirmed`
 * signal: the run parks (WAITING, worker slot free) until the signal comes; an order not paid within the
 * window gives its stock back and is cancelled (fails with ORDER_UNPAID). It ships each parcel as a child
 * `shipment` run (ctx.executeChild, in parallel). See docs/signals-and-children.md.
 */
@Workflow({ name: 'order-fulfilment', version: 3 })
export class OrderWorkflowV3 extends OrderWorkflowV2 {
  protected override async ship(input: OrderInput, ctx: WorkflowContext): Promise<Shipment> {
    const parcels = packParcels(input.items);
    const shipments = await ctx.parallel(
      parcels.map((items, i) => () => ctx.executeChild(ShipmentWorkflow, { orderId: input.orderId, customerId: input.customerId, parcel: i + 1, items })),
    );
    // The first parcel's shipment stands for the order; every tracking number is listed.
    return { ...shipments[0], trackingNumber: shipments.map((s) => s.trackingNumber).join(',') };
  }

  protected override async beforeCharge(input: OrderInput, ctx: WorkflowContext, reservationId: string): Promise<void> {
    const paid = await ctx.waitForSignal<PaymentConfirmation>(PAYMENT_CONFIRMED, { timeout: PAYMENT_WINDOW });
    if (paid !== undefined) return;
    await this.inventory.release(reservationId);
    throw new PermanentError(`Order ${input.orderId} was not paid within ${PAYMENT_WINDOW}; cancelled`, {
      kind: ErrorKind.BusinessLogicError,
      code: ORDER_UNPAID,
      context: { orderId: input.orderId },
    });
  }
}

/** Splits the items into parcels of at most UNITS_PER_PARCEL units (an item line may span parcels). */
function packParcels(items: readonly OrderItem[]): OrderItem[][] {
  const parcels: OrderItem[][] = [[]];
  let room = UNITS_PER_PARCEL;
  for (const item of items) {
    for (let left = item.qty; left > 0; ) {
      if (room === 0) {
        parcels.push([]);
        room = UNITS_PER_PARCEL;
      }
      const qty = Math.min(left, room);
      parcels[parcels.length - 1].push({ ...item, qty });
      left -= qty;
      room -= qty;
    }
  }
  return parcels;
}
