/**
 * A real PgBouncer in transaction mode in front of the local test PostgreSQL (127.0.0.1:5432), for the
 * PgBouncer spec: an ini file and a userlist in a temporary directory, `pgbouncer` started on a free
 * port (as the postgres OS user: it refuses to run as root), with a small pool per database so that
 * server connections really are shared between many client connections. Install it with
 * `apt-get install -y pgbouncer`.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { waitFor } from '../../support/app';
import { freePort, postgresTempDir, PRIMARY, withUrl } from './local-postgres';

export interface PgBouncer {
  port: number;
  /** Server connections per database (and user): `default_pool_size` and `max_db_connections`. */
  poolSize: number;
  /** A URL of `database` through PgBouncer. */
  url(database: string): string;
  /** PgBouncer's log so far. */
  log(): string;
  /** Stops PgBouncer and deletes its directory. Idempotent. */
  stop(): Promise<void>;
}

export async function startPgBouncer(primaryAdminUrl: string, options: { poolSize: number }): Promise<PgBouncer> {
  const binary = findBinary();
  const port = await freePort();
  const dir = postgresTempDir('kagzi-pgbouncer-');
  const ini = join(dir, 'pgbouncer.ini');
  const logFile = join(dir, 'pgbouncer.log');
  writeOwned(join(dir, 'userlist.txt'), `"${new URL(primaryAdminUrl).username || 'postgres'}" ""\n`);
  writeOwned(logFile, '');
  writeOwned(
    ini,
    [
      '[databases]',
      `* = host=${PRIMARY.host} port=${PRIMARY.port}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize}`,
      `max_db_connections = ${options.poolSize}`,
      'min_pool_size = 0',
      'reserve_pool_size = 0',
      'max_client_conn = 500',
      'query_wait_timeout = 30',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${logFile}`,
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(binary, asRoot ? ['-u', 'postgres', ini] : [ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8') + stderr;
    } catch {
      return stderr;
    }
  };
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const bouncer: PgBouncer = { port, poolSize: options.poolSize, url: (database) => withUrl(primaryAdminUrl, { port, database }), log, stop };
  try {
    await waitFor(
      () => `PgBouncer to accept connections on port ${port}: ${log()}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${log()}`);
        const client = new Client({ connectionString: bouncer.url('postgres') });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('select 1');
          return true;
        } catch {
          return false;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      15_000,
      100,
    );
  } catch (err: unknown) {
    await stop();
    throw err;
  }
  return bouncer;
}

function findBinary(): string {
  for (const candidate of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('pgbouncer is not installed: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer');
}

/** A file the postgres OS user can write (PgBouncer runs as that user and writes its log). */
function writeOwned(path: string, text: string): void {
  writeFileSync(path, text);
  if (process.getuid?.() !== 0) return;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(path, uid, gid);
}
