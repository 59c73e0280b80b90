import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KagziModule, WorkflowClient } from '@kagzi/nestjs';
import { ParallelModule } from './parallel.module';
import { NotificationService } from './trip.services';
import { TripWorkflow } from './trip.workflow';

@Module({ imports: [KagziModule.forRoot(), ParallelModule] }) // DATABASE_URL, else an embedded PostgreSQL
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['warn', 'error'] });
  try {
    app.get(NotificationService).down.add('sms'); // one channel fails: collect-all reports it and goes on
    const client = app.get(WorkflowClient);
    const handle = await client.start(TripWorkflow, { tripId: 'trip-1' });
    console.log('result:', await handle.result({ timeout: '1m' }));
    const run = await client.getRun(handle.runId);
    for (const s of run.steps) console.log(`${s.key.padEnd(48)} ${s.kind.padEnd(6)} ${s.status}`);
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
