import { ErrorKind, PermanentError, Workflow, WorkflowContext } from '@kagzi/nestjs';
import { OrderWorkflowV2 } from './order-v2.workflow';
import { OrderInput } from './order.types';

/** The signal the payment provider's webhook (or the demo driver) sends when the customer has paid. */
export const PAYMENT_CONFIRMED = 'payment-confirmed';
/** How long an order waits for its payment. Short, so the demo shows an unpaid order being cancelled. */
export const PAYMENT_WINDOW = '2s';
export const ORDER_UNPAID = 'ORDER_UNPAID';

export interface PaymentConfirmation {
  method: string;
}

/**
 * Version 3 of 'order-fulfilment': version 2, and before charging it waits for the `payment-confirmed`
 * signal. The run parks (WAITING, worker slot free) until the signal comes; an order not paid within
 * the window gives its stock back and is cancelled (fails with ORDER_UNPAID). See docs/signals-and-children.md.
 */
@Workflow({ name: 'order-fulfilment', version: 3 })
export class OrderWorkflowV3 extends OrderWorkflowV2 {
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
