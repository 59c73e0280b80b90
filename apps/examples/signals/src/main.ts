import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KagziModule, WorkflowClient } from '@kagzi/nestjs';
import { Decision, DECISION, ExpenseApprovalWorkflow } from './expense-approval.workflow';
import { SignalsModule } from './signals.module';

@Module({ imports: [KagziModule.forRoot(), SignalsModule] }) // DATABASE_URL, else an embedded PostgreSQL
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['warn', 'error'] });
  try {
    const client = app.get(WorkflowClient);
    const handle = await client.start(ExpenseApprovalWorkflow, { claimId: 'exp-1', cents: 12900, approver: 'alice' });
    // What a dashboard would show while the claim waits for a person (getEvent waits for the first value).
    console.log('stage:', await client.getEvent<string>(handle.runId, 'stage', { timeout: '10s' }));
    // What the approver's "Approve" button would do, from any process that has a WorkflowClient.
    const decision: Decision = { approved: true, by: 'alice' };
    await client.signal(handle.runId, DECISION, decision);
    console.log('result:', await handle.result({ timeout: '1m' }));
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
