import { Module } from '@nestjs/common';
import { ChargeWorkflow } from './charge.workflow';
import { PaymentGateway } from './payment-gateway';
import { PaymentsService } from './payments.service';

/** The workflow and its services; the app (main.ts) or the test adds KagziModule with classifyGatewayError. */
@Module({ providers: [PaymentGateway, PaymentsService, ChargeWorkflow] })
export class RetriesModule {}
