// Drops this run's template (per-file databases drop themselves) and stops the embedded
// PostgreSQL child that global-setup.mjs started, if it started one.
import pg from 'pg';

export default async function globalTeardown() {
  const adminUrl = process.env.KAGZI_TEST_ADMIN_URL;
  const run = process.env.KAGZI_TEST_RUN;
  if (adminUrl && run) {
    const client = new pg.Client({ connectionString: adminUrl });
    try {
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(`kagzi_test_${run}_template`)}`);
    } catch {
      // the next run's setup removes what is left
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const child = globalThis.__KAGZI_EMBEDDED_CHILD__;
  if (!child) return;
  delete globalThis.__KAGZI_EMBEDDED_CHILD__;
  await child.stopServer();
}
