import { Module } from '@nestjs/common';
import { ShipmentWorkflowV1, ShipmentWorkflowV2 } from './shipment.workflows';
import { ShippingService } from './shipping.service';

/** Both versions are ordinary providers of one module: the release that ships v2 keeps v1 until it drains. */
@Module({ providers: [ShippingService, ShipmentWorkflowV1, ShipmentWorkflowV2] })
export class VersioningModule {}
