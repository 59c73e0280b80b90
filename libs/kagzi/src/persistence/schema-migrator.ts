import { setTimeout as delay } from 'node:timers/promises';
import { Client, type ClientConfig } from 'pg';
import { DataSource } from 'typeorm';
import { KAGZI_MIGRATIONS } from '../../../../migrations';

/** How long a process waiting for another one's migrations sleeps between tries for the lock. */
const LOCK_RETRY_MS = 200;

/**
 * Applies pending migrations with TypeORM, on one connection, closed again afterwards. Processes that
 * boot together (replicas of a deploy) take turns: the first applies them, the others find nothing pending.
 *
 * The turn is a transaction-scoped advisory lock per schema, held by a second connection in an open
 * transaction for as long as the migrations run. Unlike a session lock it is safe behind a pooler in
 * transaction mode (PgBouncer keeps a transaction on one server connection, but may send a session's
 * next statement to another: a session lock could be taken on one server connection and never released).
 * It is tried, not waited for, so a waiting process holds no server connection that the process
 * applying the migrations may need from a small pool. A crash ends the transaction, and the lock with it.
 */
export async function migrateSchema(connection: ClientConfig, schema: string): Promise<void> {
  const lock = new Client(connection);
  lock.on('error', () => undefined); // a dropped lock connection fails the next query, which reports it
  await lock.connect();
  try {
    for (;;) {
      await lock.query('begin');
      const { rows } = await lock.query<{ got: boolean }>('select pg_try_advisory_xact_lock(hashtext($1)) as got', [`kagzi.migrations:${schema}`]);
      if (rows[0].got) break;
      await lock.query('rollback');
      await delay(LOCK_RETRY_MS);
    }
    await applyMigrations(connection, schema);
    await lock.query('commit');
  } finally {
    await lock.end().catch(() => undefined); // still in the transaction (a failure): ending it releases the lock
  }
}

async function applyMigrations(connection: ClientConfig, schema: string): Promise<void> {
  const dataSource = new DataSource({
    type: 'postgres',
    schema,
    migrations: KAGZI_MIGRATIONS,
    migrationsTableName: 'kagzi_migrations',
    migrationsTransactionMode: 'each',
    extra: { ...connection, max: 1 }, // the pg settings as given (a URL, or host, user, ssl, …)
  });
  try {
    await dataSource.initialize();
    // TypeORM creates its migrations table in the DataSource's schema, so the schema must exist first.
    await dataSource.query(`create schema if not exists "${schema}"`);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
  }
}
