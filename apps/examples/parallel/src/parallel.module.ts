import { Module } from '@nestjs/common';
import { BookingService, NotificationService, QuoteService } from './trip.services';
import { TripWorkflow } from './trip.workflow';

@Module({ providers: [BookingService, QuoteService, NotificationService, TripWorkflow] })
export class ParallelModule {}
