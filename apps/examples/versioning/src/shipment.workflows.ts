import { Workflow, WorkflowContext } from '@kagzi/nestjs';
import { ShippingService } from './shipping.service';

export const SHIPMENT = 'example-shipment';
export interface ShipmentResult {
  orderId: string;
  tracking: string;
  /** Which code ran the run: ctx.version, the version it was pinned to when it started. */
  version: number;
  fraudCheck?: 'clear';
}

/** v1, the version in production: reserve, wait for the warehouse's cut-off, ship. */
@Workflow({ name: SHIPMENT, version: 1 })
export class ShipmentWorkflowV1 {
  constructor(private readonly shipping: ShippingService) {}

  async run(input: { orderId: string }, ctx: WorkflowContext): Promise<ShipmentResult> {
    const reservation = await this.shipping.reserve(input.orderId);
    await ctx.sleep('2s'); // the warehouse's cut-off
    return { orderId: input.orderId, tracking: await this.shipping.ship(reservation), version: ctx.version };
  }
}

/**
 * v2 screens for fraud first: a new step call before the others, which runs recorded by v1 do not have.
 * So it is a new version beside v1, not an edit of it: v1's runs in flight finish on v1's code.
 */
@Workflow({ name: SHIPMENT, version: 2 })
export class ShipmentWorkflowV2 {
  constructor(private readonly shipping: ShippingService) {}

  async run(input: { orderId: string }, ctx: WorkflowContext): Promise<ShipmentResult> {
    const fraudCheck = await this.shipping.screenForFraud(input.orderId);
    const reservation = await this.shipping.reserve(input.orderId);
    await ctx.sleep('2s');
    return { orderId: input.orderId, tracking: await this.shipping.ship(reservation), version: ctx.version, fraudCheck };
  }
}
