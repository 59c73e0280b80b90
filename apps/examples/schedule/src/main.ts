import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KagziModule, WorkflowClient } from '@kagzi/nestjs';
import { NightlyDigestWorkflow } from './nightly-digest.workflow';
import { ScheduleModule } from './schedule.module';

@Module({ imports: [KagziModule.forRoot(), ScheduleModule] }) // DATABASE_URL, else an embedded PostgreSQL
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['warn', 'error'] });
  try {
    const client = app.get(WorkflowClient);
    // The schedule is stored at boot and ticks at 03:00 Berlin time while a worker runs.
    for (const s of await client.listSchedules()) {
      console.log(`schedule ${s.workflowName} v${s.version}: "${s.cron}" ${s.timezone}, next run ${s.nextRunAt.toISOString()}`);
    }
    // Not waiting for 03:00: a run started by hand, as an operator would for a missed night.
    const handle = await client.start(NightlyDigestWorkflow, { scheduledAt: new Date() }, { idempotencyKey: `manual:${new Date().toISOString().slice(0, 10)}` });
    console.log('result:', await handle.result({ timeout: '1m' }));
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
