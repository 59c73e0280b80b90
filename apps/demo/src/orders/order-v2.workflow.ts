import { ErrorKind, PermanentError, Step, Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { InventoryService } from './inventory.service';
import { NotificationsService } from './notifications.service';
import { OrderInput, OrderItem, OrderResult, Payment, Shipment, orderTotalCents } from './order.types';
import { PaymentsService } from './payments.service';
import { ShippingService } from './shipping.service';
import { simulateLatency } from './simulated-latency';

export interface FraudScreening {
  orderId: string;
  /** 0 (harmless) .. 100 (certainly fraud). */
  riskScore: number;
  approved: boolean;
}

export interface OrderResultV2 extends OrderResult {
  riskScore: number;
}

/** Orders scoring above this are refused before the card is charged. */
export const FRAUD_RISK_LIMIT = 80;
export const FRAUD_SUSPECTED = 'FRAUD_SUSPECTED';

/**
 * Version 2 of 'order-fulfilment': the same flow as OrderWorkflow (version 1) with a fraud screen
 * between reserving the stock and charging the card. Both classes are registered side by side: runs
 * started on v1 finish on v1's code, new runs go to the default version (the one set with
 * `setDefaultVersion`, else the highest that is not deprecated, i.e. this one). See docs/versioning.md.
 *
 * `client.start(OrderWorkflow, …)` names the workflow; the version comes from `options.version` or the
 * default, not from the class passed.
 */
@Workflow({ name: 'order-fulfilment', version: 2 })
export class OrderWorkflowV2 implements WorkflowDefinition<OrderInput, OrderResultV2> {
  constructor(
    protected readonly inventory: InventoryService,
    private readonly payments: PaymentsService,
    protected readonly shipping: ShippingService,
    private readonly notifications: NotificationsService,
  ) {}

  async run(input: OrderInput, ctx: WorkflowContext): Promise<OrderResultV2> {
    const [reservation] = await ctx.parallel([
      () => this.inventory.reserve(input.orderId, input.items),
      () => this.notifications.sendOrderReceived(input.customerId, input.orderId),
    ]);

    const amountCents = orderTotalCents(input.items);
    // New in v2: screen the order before any money moves. A refused order gives its stock back and fails.
    const screening = await this.screenForFraud(input.orderId, input.customerId, input.items);
    if (!screening.approved) {
      await this.inventory.release(reservation.reservationId);
      throw new PermanentError(`Order ${input.orderId} refused by the fraud screen (risk ${screening.riskScore})`, {
        kind: ErrorKind.BusinessLogicError,
        code: FRAUD_SUSPECTED,
        context: { orderId: input.orderId, riskScore: screening.riskScore },
      });
    }

    await this.beforeCharge(input, ctx, reservation.reservationId);
    let payment: Payment;
    try {
      payment = await this.payments.charge(input.orderId, input.customerId, amountCents);
    } catch (err: unknown) {
      await this.inventory.release(reservation.reservationId);
      throw err;
    }

    await ctx.sleep('300ms');

    const shipment = await this.ship(input, ctx);
    await this.notifications.sendConfirmation(input.customerId, input.orderId, shipment.trackingNumber);

    return {
      orderId: input.orderId,
      reservationId: reservation.reservationId,
      paymentId: payment.paymentId,
      shipmentId: shipment.shipmentId,
      trackingNumber: shipment.trackingNumber,
      amountCents,
      riskScore: screening.riskScore,
    };
  }

  /** Ships the order: one shipment step in v2; v3 starts a child shipment run per parcel. */
  protected ship(input: OrderInput, _ctx: WorkflowContext): Promise<Shipment> {
    return this.shipping.createShipment(input.orderId, input.customerId, input.items);
  }

  /** Between the fraud screen and the charge. Nothing in v2; v3 waits for the customer's payment here. */
  protected async beforeCharge(_input: OrderInput, _ctx: WorkflowContext, _reservationId: string): Promise<void> {}

  /**
   * A fake risk service: large baskets and large amounts score high. A @Step like any other (it may sit
   * on the workflow class itself), so its verdict is stored and a replay never asks again.
   */
  @Step({ name: 'Fraud.screen' })
  async screenForFraud(orderId: string, _customerId: string, items: OrderItem[]): Promise<FraudScreening> {
    await simulateLatency();
    const units = items.reduce((n, item) => n + item.qty, 0);
    const euros = orderTotalCents(items) / 100;
    const riskScore = Math.min(100, Math.round(euros / 50) + Math.max(0, units - 10) * 5);
    return { orderId, riskScore, approved: riskScore <= FRAUD_RISK_LIMIT };
  }
}
