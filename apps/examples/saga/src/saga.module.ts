import { Module } from '@nestjs/common';
import { TravelService } from './travel.service';
import { TripSagaWorkflow } from './trip-saga.workflow';

@Module({ providers: [TravelService, TripSagaWorkflow] })
export class SagaModule {}
