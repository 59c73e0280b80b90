import 'reflect-metadata';
import { ConsoleLogger, INestApplicationContext, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KagziWorker, WorkerOptions, WorkflowClient } from '@kagzi/nestjs';
// Not public API: the bench reaches into the library to count what it sends to PostgreSQL.
import { KagziDatabase } from '../../../libs/kagzi/src/persistence/kagzi-database';
import { NotificationListener } from '../../../libs/kagzi/src/persistence/notification.listener';
import { BenchModule } from './bench.module';
import { BenchTarget } from './database';
import { QueryProbe } from './probe';

/** Nest logs go to stderr, so stdout carries nothing but JSON figures. */
class StderrLogger extends ConsoleLogger {
  /** Messages matching this are not printed (the `retry` scenario fails hundreds of attempts on purpose). */
  suppress?: RegExp;

  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _stream?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    const suppress = this.suppress;
    if (suppress && messages.some((m) => typeof m === 'string' && suppress.test(m))) return;
    super.printMessages(messages, context, logLevel, 'stderr', errorStack, params);
  }
}

let verboseLogs = false;
export function setVerboseLogs(verbose: boolean): void {
  verboseLogs = verbose;
}

// The probe must wrap the pool before the worker's first claim, which runs inside app init: hook the
// moment the library opens its database (a bench-only wrapper around the static factory).
let onDatabaseOpened: ((db: KagziDatabase) => void) | undefined;
const openDatabase = KagziDatabase.open.bind(KagziDatabase);
KagziDatabase.open = async (options) => {
  const db = await openDatabase(options);
  onDatabaseOpened?.(db);
  return db;
};

export interface BenchApp {
  app: INestApplicationContext;
  client: WorkflowClient;
  worker: KagziWorker;
  db: KagziDatabase;
  probe: QueryProbe;
  /** Deletes every run, step, step attempt, signal, event and retry (the worker must be idle). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface BootOptions {
  /** Start recording statements as soon as the pool exists (the worker claims during init). */
  recordFromBoot?: boolean;
  /** Log messages not to print (unless `--verbose`). */
  suppressLogs?: RegExp;
}

/** Boots the bench module with the given worker options; resolves once the worker is polling. */
export async function bootBenchApp(target: BenchTarget, worker: WorkerOptions | false = {}, options: BootOptions = {}): Promise<BenchApp> {
  let probe: QueryProbe | undefined;
  onDatabaseOpened = (db) => {
    probe = new QueryProbe(db.pool, db.schema);
    if (options.recordFromBoot) probe.start();
  };
  let app: INestApplicationContext;
  const logger = new StderrLogger({ logLevels: verboseLogs ? ['log', 'warn', 'error', 'fatal'] : ['warn', 'error', 'fatal'] });
  if (!verboseLogs) logger.suppress = options.suppressLogs;
  try {
    app = await NestFactory.createApplicationContext(BenchModule.forRoot({ database: target.database, schema: target.schema, worker }), { logger });
  } finally {
    onDatabaseOpened = undefined;
  }
  if (!probe) throw new Error('the Kagzi database was not opened through KagziDatabase.open; the bench cannot count statements');
  const db = app.get(KagziDatabase, { strict: false });
  const workerInstance = app.get(KagziWorker, { strict: false });
  probe.attachListener(app.get(NotificationListener, { strict: false }));
  await workerInstance.ready;
  const schema = db.schema;
  return {
    app,
    client: app.get(WorkflowClient, { strict: false }),
    worker: workerInstance,
    db,
    probe,
    reset: async () => {
      await db.pool.query(`truncate "${schema}".run_retries, "${schema}".run_events, "${schema}".signals, "${schema}".step_attempts, "${schema}".step_runs, "${schema}".workflow_runs`);
    },
    close: () => app.close(),
  };
}
