import { Workflow, WorkflowDefinition } from '@kagzi/nestjs';
import { OrderItem, Shipment } from './order.types';
import { ShippingService } from './shipping.service';

export interface ShipmentInput {
  orderId: string;
  customerId: string;
  /** 1-based number of this parcel within its order. */
  parcel: number;
  items: OrderItem[];
}

/** One parcel of an order, shipped as a child run of its order (ctx.executeChild in OrderWorkflowV3). */
@Workflow({ name: 'shipment' })
export class ShipmentWorkflow implements WorkflowDefinition<ShipmentInput, Shipment> {
  constructor(private readonly shipping: ShippingService) {}

  run(input: ShipmentInput): Promise<Shipment> {
    return this.shipping.createShipment(`${input.orderId}#${input.parcel}`, input.customerId, input.items);
  }
}
