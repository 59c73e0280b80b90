import { Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { InventoryService } from './inventory.service';
import { NotificationsService } from './notifications.service';
import { OrderInput, OrderResult, Payment, orderTotalCents } from './order.types';
import { PaymentsService } from './payments.service';
import { ShippingService } from './shipping.service';

/**
 * Reserve stock (while acknowledging the order), take payment, wait for the warehouse, ship, tell the customer.
 * Each service call is a @Step: stored once, so a crash or redeploy resumes after the last finished step
 * and never charges a card twice. Keep this method deterministic; side effects belong in steps.
 */
@Workflow({ name: 'order-fulfilment' })
export class OrderWorkflow implements WorkflowDefinition<OrderInput, OrderResult> {
  constructor(
    private readonly inventory: InventoryService,
    private readonly payments: PaymentsService,
    private readonly shipping: ShippingService,
    private readonly notifications: NotificationsService,
  ) {}

  async run(input: OrderInput, ctx: WorkflowContext): Promise<OrderResult> {
    // Reserve stock and acknowledge the order at the same time: two branches, each durable on its own.
    const [reservation] = await ctx.parallel([
      () => this.inventory.reserve(input.orderId, input.items),
      () => this.notifications.sendOrderReceived(input.customerId, input.orderId),
    ]);

    const amountCents = orderTotalCents(input.items);
    let payment: Payment;
    try {
      payment = await this.payments.charge(input.orderId, input.customerId, amountCents);
    } catch (err: unknown) {
      // Compensate, then let the run fail with the payment error.
      await this.inventory.release(reservation.reservationId);
      throw err;
    }

    // Stands for "wait for the warehouse to pick the order": durable, and the worker slot is free meanwhile.
    await ctx.sleep('300ms');

    const shipment = await this.shipping.createShipment(input.orderId, input.customerId, input.items);
    await this.notifications.sendConfirmation(input.customerId, input.orderId, shipment.trackingNumber);

    return {
      orderId: input.orderId,
      reservationId: reservation.reservationId,
      paymentId: payment.paymentId,
      shipmentId: shipment.shipmentId,
      trackingNumber: shipment.trackingNumber,
      amountCents,
    };
  }
}
