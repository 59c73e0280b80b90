import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { KagziModule } from '@kagzi/nestjs';
import { HealthController } from './health/health.controller';
import { OrdersModule } from './orders/orders.module';

@Module({
  imports: [
    // No database options: KAGZI_DATABASE_URL / DATABASE_URL if set, else an embedded PostgreSQL under ./.kagzi
    KagziModule.forRoot(),
    TerminusModule,
    OrdersModule,
  ],
  controllers: [HealthController],
})
export class AppModule {}
