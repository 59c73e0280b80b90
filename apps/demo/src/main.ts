import 'reflect-metadata';
// First: the metrics SDK must be the global MeterProvider before Nest and Kagzi load.
import { prometheusExporter } from './telemetry';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule.http(prometheusExporter));
  // SIGTERM/SIGINT close the app: the Kagzi worker drains, then the embedded PostgreSQL (if any) stops.
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);

  const url = `http://localhost:${port}`;
  const logger = new Logger('Demo');
  logger.log(`Order API listening on ${url}; dashboard at ${url}/kagzi`);
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
