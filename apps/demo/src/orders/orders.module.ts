import { Module } from '@nestjs/common';
import { InventoryService } from './inventory.service';
import { NotificationsService } from './notifications.service';
import { OrderWorkflowV2 } from './order-v2.workflow';
import { OrderWorkflowV3 } from './order-v3.workflow';
import { ShipmentWorkflow } from './shipment.workflow';
import { OrderWorkflow } from './order.workflow';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';
import { PAYMENT_GATEWAY_OPTIONS, PaymentsService, paymentGatewayOptionsFromEnv } from './payments.service';
import { ShippingService } from './shipping.service';

@Module({
  controllers: [OrdersController],
  providers: [
    { provide: PAYMENT_GATEWAY_OPTIONS, useFactory: () => paymentGatewayOptionsFromEnv() },
    OrdersService,
    InventoryService,
    PaymentsService,
    ShippingService,
    NotificationsService,
    // Versions of 'order-fulfilment' side by side: older ones finish their runs, v3 takes new ones (docs/versioning.md).
    OrderWorkflow,
    OrderWorkflowV2,
    OrderWorkflowV3,
    ShipmentWorkflow,
  ],
})
export class OrdersModule {}
