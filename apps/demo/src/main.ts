import 'reflect-metadata';
// First: the metrics SDK must be the global MeterProvider before Nest and Kagzi load.
import { prometheusExporter } from './telemetry';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { openDemoDatabase } from './database/demo-database';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Demo');
  const database = await openDemoDatabase((line) => logger.warn(`embedded PostgreSQL: ${line}`));
  const app = await NestFactory.create(AppModule.forRoot({ databaseUrl: database.url, metrics: prometheusExporter })).catch(async (err: unknown) => {
    await database.close();
    throw err;
  });
  // SIGTERM/SIGINT close the app (the Kagzi worker drains, TypeORM closes the pool), then the embedded PostgreSQL stops.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log(`${signal}: shutting down`);
      app
        .close()
        .finally(() => database.close())
        .then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
            process.exit(1);
          },
        );
    });
  }
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);

  const url = `http://localhost:${port}`;
  logger.log(`Order API listening on ${url} (data in ${database.description}); dashboard at ${url}/kagzi`);
  logger.log(
    [
      'Try:',
      `  curl -s -X POST ${url}/orders -H 'content-type: application/json' -H 'Idempotency-Key: order-42' \\`,
      `       -d '{"customerId":"cus_42","items":[{"sku":"MUG-01","qty":2,"price":12.5}]}'`,
      `  curl -s -X POST ${url}/orders/<runId>/signals/payment-confirmed -H 'content-type: application/json' -d '{"method":"card"}'`,
      `  curl -s ${url}/orders/<runId>`,
      `  curl -s ${url}/health`,
      `  curl -s ${url}/metrics`,
    ].join('\n'),
  );
}

bootstrap().catch((err: unknown) => {
  new Logger('Demo').error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
