import { Client } from 'pg';
import { appliedMigrations, migrationsTablePresent } from '../persistence/sql/ops-stats.sql';
import { CliTarget } from './cli-target';

/** The migrations recorded as applied in the target schema, oldest first ([] before the first migrate). */
export async function readAppliedMigrations(target: CliTarget): Promise<string[]> {
  const client = new Client({ connectionString: target.url });
  // An 'error' event on an idle client would otherwise crash the process; the query's own rejection reports it.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const [probe] = (await client.query<{ present: boolean }>(migrationsTablePresent.text(target.schema))).rows;
    if (!probe.present) return [];
    return (await client.query<{ name: string }>(appliedMigrations.text(target.schema))).rows.map((r) => r.name);
  } finally {
    await client.end().catch(() => undefined);
  }
}
