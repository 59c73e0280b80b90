import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KagziModule, WorkflowCancelledError, WorkflowClient } from '@kagzi/nestjs';
import { SagaModule } from './saga.module';
import { TravelService } from './travel.service';
import { TripSagaWorkflow } from './trip-saga.workflow';

@Module({ imports: [KagziModule.forRoot(), SagaModule] }) // DATABASE_URL, else an embedded PostgreSQL
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['warn', 'error'] });
  try {
    const client = app.get(WorkflowClient);
    const handle = await client.start(TripSagaWorkflow, { tripId: 'trip-1', cents: 84000 });
    // Wait for the run to reach its one-day cancellation window, then cancel it as the customer would.
    while ((await handle.status()) !== 'SLEEPING') await new Promise((resolve) => setTimeout(resolve, 50));
    await client.cancel(handle.runId, 'the customer changed plans');
    try {
      await handle.result({ timeout: '1m' });
    } catch (err) {
      if (!(err instanceof WorkflowCancelledError)) throw err;
      console.log(`result: cancelled (${err.reason}), status ${await handle.status()}`);
    }
    console.log('ledger:', app.get(TravelService).ledger);
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
