import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WorkflowClient } from '../client/workflow.client';
import { KagziModule } from '../kagzi.module';
import { KagziDatabase } from '../persistence/kagzi-database';
import { CliTarget } from './cli-target';

/** A client-only Kagzi on the target database, for one command. */
export interface KagziSession {
  readonly client: WorkflowClient;
  readonly database: KagziDatabase;
  readonly target: CliTarget;
  close(): Promise<void>;
}

/**
 * Boots a Nest application context with KagziModule and no worker, no app code: the CLI works from the
 * database alone. Migrations run only for `kagzi migrate` (a team with `migrationsRun: false` applies
 * them on purpose, never as a side effect of `runs list`). An unreachable database fails at once
 * (no boot retries), and Nest logs nothing: the CLI reports failures itself, in one line.
 */
export async function openSession(target: CliTarget, options: { migrate: boolean; replica: boolean }): Promise<KagziSession> {
  const readUrl = options.replica ? target.readUrl : undefined;
  const module = KagziModule.forRoot({
    // A command that decides (cancel, retry, signal, start, migrate) never opens the replica.
    database: { url: target.url, ...(readUrl ? { readUrl } : {}), ...(target.listenUrl ? { listenUrl: target.listenUrl } : {}) },
    schema: target.schema,
    worker: false,
    migrationsRun: options.migrate,
    retryAttempts: 0,
    reconnectTimeout: '2s',
  });
  const app: INestApplicationContext = await NestFactory.createApplicationContext(module, { logger: false, abortOnError: false });
  let closing: Promise<void> | undefined;
  return {
    client: app.get(WorkflowClient),
    database: app.get(KagziDatabase, { strict: false }),
    target,
    close: () => (closing ??= app.close()),
  };
}
