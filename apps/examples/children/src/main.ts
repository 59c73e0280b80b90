import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KagziModule, WorkflowClient } from '@kagzi/nestjs';
import { AlbumWorkflow } from './album.workflow';
import { ChildrenModule } from './children.module';

@Module({ imports: [KagziModule.forRoot(), ChildrenModule] }) // DATABASE_URL, else an embedded PostgreSQL
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['warn', 'error'] });
  try {
    const client = app.get(WorkflowClient);
    const handle = await client.start(AlbumWorkflow, { albumId: 'summer', photos: ['beach.jpg', 'hike.jpg', 'notes.txt'] });
    console.log('result:', await handle.result({ timeout: '1m' }));
    const run = await client.getRun(handle.runId);
    for (const child of run.children) console.log(`child ${child.runId} ${child.workflowName} ${child.status}`);
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
