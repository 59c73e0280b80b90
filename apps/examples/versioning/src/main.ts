import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KagziModule, WorkflowClient } from '@kagzi/nestjs';
import { SHIPMENT, ShipmentResult } from './shipment.workflows';
import { VersioningModule } from './versioning.module';

@Module({ imports: [KagziModule.forRoot(), VersioningModule] }) // DATABASE_URL, else an embedded PostgreSQL
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['warn', 'error'] });
  try {
    const client = app.get(WorkflowClient);
    // A deploy, step by step (docs/versioning.md): v1 is the default while v2 ships beside it...
    await client.setDefaultVersion(SHIPMENT, 1);
    const old = await client.start<{ orderId: string }, ShipmentResult>(SHIPMENT, { orderId: 'o-1' });
    // ...then the switch: new runs take v2, the run in flight stays pinned to v1.
    await client.setDefaultVersion(SHIPMENT, 2);
    const current = await client.start<{ orderId: string }, ShipmentResult>(SHIPMENT, { orderId: 'o-2' });
    console.log('started before the switch:', await old.result({ timeout: '1m' }));
    console.log('started after the switch: ', await current.result({ timeout: '1m' }));
    // Drain, then retire v1: nothing can start on it any more.
    const inFlight = await client.countWorkflows({ name: SHIPMENT, version: 1, status: ['PENDING', 'RUNNING', 'SLEEPING', 'WAITING'] });
    if (inFlight === 0) await client.deprecateVersion(SHIPMENT, 1);
    for (const v of await client.listVersions(SHIPMENT)) console.log(`v${v.version}: default ${v.isDefault}, deprecated ${v.deprecated}`);
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
