import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KagziModule, WorkflowClient } from '@kagzi/nestjs';
import { ChargeWorkflow } from './charge.workflow';
import { classifyGatewayError } from './classify-gateway-error';
import { PaymentGateway } from './payment-gateway';
import { RetriesModule } from './retries.module';

@Module({ imports: [KagziModule.forRoot({ classifyError: classifyGatewayError }), RetriesModule] }) // DATABASE_URL, else an embedded PostgreSQL
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['warn', 'error'] });
  try {
    // Two failures the policy retries (a rate limit the hook classifies, a network timeout the built-in rules do), then success.
    app.get(PaymentGateway).script('ord-1', ['rate_limit', 'timeout', 'ok']);
    const handle = await app.get(WorkflowClient).start(ChargeWorkflow, { orderId: 'ord-1', cents: 4200 });
    console.log('result:', await handle.result({ timeout: '1m' })); // about 3 s: back-offs of 1 s and 2 s
    const run = await app.get(WorkflowClient).getRun(handle.runId);
    for (const a of run.steps[0].attempts) console.log(`attempt ${a.attempt}: ${a.error ? `${a.error.kind} (${a.error.message})` : 'ok'}`);
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
