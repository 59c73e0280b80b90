import { Module } from '@nestjs/common';
import { InventoryService } from './inventory.service';
import { NotificationsService } from './notifications.service';
import { OrderWorkflowV2 } from './order-v2.workflow';
import { OrderWorkflow } from './order.workflow';
import { OrdersController } from './orders.controller';
import { PAYMENT_GATEWAY_OPTIONS, PaymentsService, paymentGatewayOptionsFromEnv } from './payments.service';
import { ShippingService } from './shipping.service';

@Module({
  controllers: [OrdersController],
  providers: [
    { provide: PAYMENT_GATEWAY_OPTIONS, useFactory: () => paymentGatewayOptionsFromEnv() },
    InventoryService,
    PaymentsService,
    ShippingService,
    NotificationsService,
    // Two versions of 'order-fulfilment' side by side: v1 finishes its runs, v2 takes new ones (docs/versioning.md).
    OrderWorkflow,
    OrderWorkflowV2,
  ],
})
export class OrdersModule {}
