import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WorkflowClient } from '@kagzi/nestjs';
import { performance } from 'node:perf_hooks';
import { AppModule } from './app.module';
import { renderReport } from './demo/batch-report';
import { startBatchProgress } from './demo/batch-progress';
import { DemoLogger } from './demo/demo.logger';
import { openDemoDatabase } from './database/demo-database';
import { OrderOutcome, runOrderBatch } from './demo/order-batch';
import { sampleOrders } from './demo/sample-orders';
import { OrdersService } from './orders/orders.service';
import { Order } from './database/order.entity';
import { DataSource } from 'typeorm';
import { PAYMENT_GATEWAY_UNAVAILABLE, PaymentsService, paymentGatewayOptionsFromEnv } from './orders/payments.service';
import { ORDER_UNPAID } from './orders/order-v3.workflow';

// Every wait is bounded, so a broken database or a stuck run ends the demo with exit 1 instead of hanging.
const BOOT_TIMEOUT_MS = 120_000; // first run: initdb of the embedded PostgreSQL
const CLOSE_TIMEOUT_MS = 45_000; // the worker drains (runs are done by then), then PostgreSQL stops
const EXIT_GRACE_MS = 5_000;

/**
 * `npm run demo`: boots the same AppModule as `npm start`, without HTTP, pushes a batch of orders through
 * the order-fulfilment workflow, shows progress, prints a summary, and shuts everything down.
 *   DEMO_ORDERS (default 50)   DEMO_PAYMENT_FAILURE_RATE (default 0.2)   DEMO_TIMEOUT_MS (default 120000)
 * Warnings (retried payments and the like) go to .kagzi/demo.log, not around the progress bar; the last line counts them.
 */
async function main(): Promise<number> {
  const logger = new DemoLogger();
  try {
    return await runDemo(logger);
  } finally {
    logger.close();
    if (logger.warnings > 0) process.stdout.write(`${logger.warnings} warning${logger.warnings === 1 ? '' : 's'} written to ${logger.logFile}\n`);
  }
}

async function runDemo(logger: DemoLogger): Promise<number> {
  const count = intFromEnv('DEMO_ORDERS', 50, 1, 100_000);
  const batchTimeoutMs = intFromEnv('DEMO_TIMEOUT_MS', 120_000, 1_000, 3_600_000);
  const gateway = paymentGatewayOptionsFromEnv();
  const out = process.stdout;

  const bootStarted = performance.now();
  const database = await withTimeout(openDemoDatabase((line) => logger.warn(`embedded PostgreSQL: ${line}`, 'Demo')), BOOT_TIMEOUT_MS, 'starting the database');
  out.write(`Kagzi demo: ${count} orders through the "order-fulfilment" workflow on ${database.description}\n`);
  if (gateway.failureRate > 0) out.write(`Simulated payment outages: ${(gateway.failureRate * 100).toFixed(1)}% of charges (seed "${gateway.seed}")\n`);

  let app: INestApplicationContext;
  try {
    app = await withTimeout(
      NestFactory.createApplicationContext(AppModule.forRoot({ databaseUrl: database.url }), { logger, abortOnError: false }),
      BOOT_TIMEOUT_MS,
      'booting the app (migrations)',
    );
  } catch (err: unknown) {
    await database.close();
    throw err;
  }
  const bootMs = performance.now() - bootStarted;
  // Ctrl-C closes the app and then the embedded PostgreSQL, rather than leaving it orphaned.
  const interrupt = (): void => {
    void withTimeout(app.close(), CLOSE_TIMEOUT_MS, 'closing the app')
      .finally(() => database.close())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  out.write(`Booted in ${Math.round(bootMs)} ms\n`);

  let unexpected = 0;
  try {
    const client = app.get(WorkflowClient);
    const orders = sampleOrders(count, gateway.seed);
    const progress = startBatchProgress(count);
    logger.routeTo(progress.logSink);

    const started = performance.now();
    let outcomes: OrderOutcome[];
    try {
      outcomes = await runOrderBatch(app.get(OrdersService), client, orders, {
        deadline: started + batchTimeoutMs,
        isExpectedFailure: (err) => (gateway.failureRate > 0 && err.error.code === PAYMENT_GATEWAY_UNAVAILABLE) || err.error.code === ORDER_UNPAID,
        onSettled: (outcome) => progress.settled(outcome),
        // Every tenth customer never pays: their orders wait out the payment window and are cancelled.
        pays: (order) => orders.indexOf(order) % 10 !== 9,
      });
    } finally {
      progress.stop();
      logger.routeTo(undefined);
    }
    const totalMs = performance.now() - started;

    // Submitting the first order again with its idempotency key must return the same run, not a second order.
    const first = outcomes[0];
    const again = await app.get(OrdersService).place(orders[0], orders[0].orderId);
    const idempotent = first.runId !== undefined && again.runId === first.runId;
    const stored = await client.countWorkflows({ name: 'order-fulfilment' });
    const shipments = await client.countRuns({ name: 'shipment', status: 'COMPLETED' });
    const orderRows = await app.get(DataSource).getRepository(Order).count();

    unexpected = outcomes.filter((o) => !o.expected).length + (idempotent ? 0 : 1);
    out.write(
      renderReport({
        outcomes,
        totalMs,
        extra: [
          ['boot (Nest + database)', `${Math.round(bootMs)} ms`],
          ['duplicate submit', idempotent ? 'same run returned' : `NEW RUN ${again.runId} (expected ${first.runId ?? 'none'})`],
          ['runs in database', `${stored} (all batches so far)`],
          ['order rows (TypeORM, each committed with its run)', `${orderRows} (all batches so far)`],
          ['payment outages retried', String(app.get(PaymentsService).simulatedOutages)],
          ['parcels shipped (child runs)', `${shipments} (all batches so far)`],
        ],
      }),
    );
    const surprises = outcomes.filter((o) => !o.expected);
    for (const o of surprises.slice(0, 5)) {
      process.stderr.write(`unexpected: order ${o.orderId} (run ${o.runId ?? '-'}): ${o.status} ${o.detail ?? ''}\n`);
    }
    if (surprises.length > 5) process.stderr.write(`unexpected: ... and ${surprises.length - 5} more\n`);
  } finally {
    const closing = performance.now();
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
    try {
      await withTimeout(app.close(), CLOSE_TIMEOUT_MS, 'closing the app (worker drain, pool)');
    } finally {
      await withTimeout(database.close(), CLOSE_TIMEOUT_MS, 'stopping the embedded PostgreSQL');
    }
    out.write(`Shut down in ${Math.round(performance.now() - closing)} ms\n`);
  }
  return unexpected === 0 ? 0 : 1;
}

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max}; got "${raw}"`);
  return value;
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms ${what}`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now, so the process should end by itself; if some handle keeps it alive, say so and go.
    setTimeout(() => {
      process.stderr.write(`The process did not exit within ${EXIT_GRACE_MS} ms of shutting down; forcing exit ${code}\n`);
      process.exit(code);
    }, EXIT_GRACE_MS).unref();
  },
  (err: unknown) => {
    // Nest has already logged boot failures with their stack; the message is enough here.
    process.stderr.write(`Demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
