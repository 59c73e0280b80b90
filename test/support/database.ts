import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  url: string;
  name: string;
  /** Terminates remaining connections and drops the database. Idempotent. */
  drop(): Promise<void>;
}

/** URL of the admin database chosen by global-setup.mjs (env KAGZI_TEST_ADMIN_URL). */
export function adminUrl(): string {
  const url = process.env.KAGZI_TEST_ADMIN_URL;
  if (!url) {
    throw new Error('KAGZI_TEST_ADMIN_URL is not set: run tests through jest (test/support/global-setup.mjs sets it)');
  }
  return url;
}

/** Creates an empty database of its own (cloned from kagzi_test_template) for one spec file. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || 'db';
  const run = process.env.KAGZI_TEST_RUN ?? 'r0';
  const name = `kagzi_test_${run}_${slug.slice(0, 30)}_${randomBytes(4).toString('hex')}`; // <= 63 bytes, PostgreSQL's limit
  await withAdmin((client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ${client.escapeIdentifier(`kagzi_test_${run}_template`)}`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  const drop = (): Promise<void> =>
    (dropping ??= withAdmin(async (client) => {
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}`);
    }));
  return { url: url.toString(), name, drop };
}

async function withAdmin(work: (client: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
