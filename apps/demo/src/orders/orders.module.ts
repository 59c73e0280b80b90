import { Module } from '@nestjs/common';
import { InventoryService } from './inventory.service';
import { NotificationsService } from './notifications.service';
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
    OrderWorkflow,
  ],
})
export class OrdersModule {}
