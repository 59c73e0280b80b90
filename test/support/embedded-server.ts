/**
 * Runs an embedded PostgreSQL in a process of its own: for the jest run (spawned by global-setup.mjs: the
 * launcher runs in plain Node there) and for test/embedded.spec.ts. Prints `{"url": ..., "pid": ...}` as one
 * JSON line on stdout, then serves until stdin closes (the parent ended, even by SIGKILL) or SIGTERM/SIGINT
 * arrives, and stops the server.
 *
 * Env (defaults serve the jest run):
 *   EMBEDDED_DATA_DIR       data directory (default test/.tmp/embedded)
 *   EMBEDDED_DATABASE       database the URL names (default 'postgres', the admin database)
 *   EMBEDDED_STOP_DELAY_MS  after a signal, wait this long before stopping the server, like an app that
 *                           drains its worker first; prints `{"event":"signal","signal":...}` at once
 */
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../libs/kagzi/src/persistence/embedded-postgres.launcher';

async function main(): Promise<void> {
  const dataDir = process.env.EMBEDDED_DATA_DIR || join(__dirname, '..', '.tmp', 'embedded');
  const stopDelayMs = Number(process.env.EMBEDDED_STOP_DELAY_MS) || 0;
  // no log: tests provoke server ERRORs on purpose, and a failed start throws anyway
  const server = await startEmbeddedPostgres({ dataDir, database: process.env.EMBEDDED_DATABASE || 'postgres' });
  let stopping = false;
  const shutdown = (signal?: NodeJS.Signals): void => {
    if (signal) process.stdout.write(`${JSON.stringify({ event: 'signal', signal })}\n`);
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      server.stop().then(
        () => process.exit(0),
        (e: unknown) => {
          console.error('embedded PostgreSQL did not stop cleanly:', e);
          process.exit(1);
        },
      );
    }, stopDelayMs);
  };
  process.stdin.on('end', () => shutdown()).on('close', () => shutdown()).resume();
  process.on('SIGTERM', shutdown).on('SIGINT', shutdown);
  process.stdout.write(`${JSON.stringify({ url: server.url, pid: server.pid })}\n`);
}

main().catch((e: unknown) => {
  console.error('embedded PostgreSQL failed to start:', e);
  process.exit(1);
});
