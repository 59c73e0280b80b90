// Finds a PostgreSQL server for the tests and prepares the template every test database is cloned from.
// Order: KAGZI_TEST_DATABASE_URL (an admin database on some server), else the local server on 5432 if it
// answers within 2 s (skipped with KAGZI_TEST_FORCE_EMBEDDED=1), else an embedded server in a child process.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
// Each jest run has its own prefix, so two runs on one server never drop each other's databases.
const RUN = `r${process.pid}`;
const TEMPLATE = `kagzi_test_${RUN}_template`;

export default async function globalSetup(_globalConfig, projectConfig) {
  const started = Date.now();
  let adminUrl = process.env.KAGZI_TEST_DATABASE_URL;
  let source = 'KAGZI_TEST_DATABASE_URL';
  if (!adminUrl && process.env.KAGZI_TEST_FORCE_EMBEDDED !== '1' && (await answers(LOCAL_URL))) {
    [adminUrl, source] = [LOCAL_URL, 'local server'];
  }
  if (!adminUrl) {
    const child = await startEmbeddedChild(projectConfig.rootDir);
    globalThis.__KAGZI_EMBEDDED_CHILD__ = child.process; // read by global-teardown.mjs (same process)
    [adminUrl, source] = [child.url, 'embedded server'];
  }
  try {
    await resetTestDatabases(adminUrl);
  } catch (e) {
    await globalThis.__KAGZI_EMBEDDED_CHILD__?.stopServer();
    throw new Error(`Test PostgreSQL (${source}) could not be prepared: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
  process.env.KAGZI_TEST_ADMIN_URL = adminUrl; // inherited by the jest workers, which start after this
  process.env.KAGZI_TEST_RUN = RUN;
  if (process.env.KAGZI_TEST_VERBOSE) console.log(`\nTest PostgreSQL: ${source} (${Date.now() - started} ms)`);
}

async function answers(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The embedded server runs in a plain Node child: it outlives jest's module sandbox and is stopped by closing its stdin. */
function startEmbeddedChild(rootDir) {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(rootDir, 'test/support/embedded-server.ts')], {
    cwd: rootDir,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin.on('error', () => undefined); // EPIPE if the child is already gone: nothing left to stop
  // closing stdin asks the child to stop the server; it also happens if this process dies
  child.stopServer = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => resolve(clearTimeout(timer)));
      child.stdin.end();
    });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('embedded PostgreSQL did not start within 60 s')), 60_000);
    const fail = (error) => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(error);
    };
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`embedded PostgreSQL child exited early (${code ?? signal})`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      child.removeAllListeners('exit').removeAllListeners('error').on('error', () => undefined);
      child.stdout.removeAllListeners('data').resume(); // keep draining; nothing more is expected
      try {
        resolve({ process: child, url: JSON.parse(out.slice(0, out.indexOf('\n'))).url });
      } catch (e) {
        fail(new Error(`embedded PostgreSQL child printed ${JSON.stringify(out)}`, { cause: e }));
      }
    });
  });
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Drops test databases left by earlier runs and (re)creates the empty template the per-file ones clone. */
async function resetTestDatabases(adminUrl) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query(String.raw`SELECT datname FROM pg_database WHERE datname LIKE 'kagzi\_test\_%'`);
    for (const { datname } of rows) {
      const owner = /^kagzi_test_r(\d+)_/.exec(datname);
      if (owner && isAlive(Number(owner[1]))) continue; // another jest run, still going
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [datname]);
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(datname)}`);
    }
    await client.query(`CREATE DATABASE ${TEMPLATE} TEMPLATE template0`);
    // nobody may connect to it: CREATE DATABASE ... TEMPLATE fails while the template has sessions
    await client.query(`ALTER DATABASE ${TEMPLATE} ALLOW_CONNECTIONS false`);
  } finally {
    await client.end();
  }
}
