import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { connectAsSuperuser, loadOrCreatePassword, withInitdbPasswordFile } from './embedded-postgres.password';
import { initCluster, postgresBinaries, postgresOsUser, type PostgresProcess, startPostgres, stopOrphanedServer } from './embedded-postgres.process';

/** A running embedded PostgreSQL, as {@link startEmbeddedPostgres} returns it. */
export interface EmbeddedPostgresHandle {
  /** A connection URL to `database`; carries the data directory's own superuser password (see `<dataDir>/postgres.password`). */
  url: string;
  /** The TCP port it listens on (127.0.0.1 only). */
  port: number;
  /** The data directory, as an absolute path. */
  dataDir: string;
  /** The postmaster's process id. */
  pid: number;
  /** Stops the server (fast shutdown: open sessions are ended). Close every pool on it first. */
  stop(): Promise<void>;
}

/** What {@link startEmbeddedPostgres} takes. */
export interface EmbeddedPostgresOptions {
  /** Where the cluster lives (in `<dataDir>/pg`), relative to the working directory or absolute; created if missing. */
  dataDir: string;
  /** The port to listen on. Default: a free one. */
  port?: number;
  /** Database to create (if missing) and point `url` at. Default: 'kagzi'. */
  database?: string;
  /** Receives the server's ERROR/FATAL/PANIC lines and the launcher's notices; everything else is dropped. */
  log?: (line: string) => void;
}

const OWNER_FILE = 'owner.pid'; // the Node process whose postgres child holds the cluster

/**
 * Starts (initialising on first use) a PostgreSQL server whose cluster lives in `<dataDir>/pg`: TCP on
 * 127.0.0.1 only, no Unix socket, password authentication for every connection, the superuser's
 * password generated per data directory and kept in `<dataDir>/postgres.password` (mode 0600).
 *
 * This is what `KagziModule.forRoot()` does when no database is configured. Call it yourself when the
 * app's own TypeORM DataSource must reach the same server before Kagzi boots (then give Kagzi that
 * DataSource: `database: { dataSource }`), and call `stop()` after the app has closed. For development
 * only. Throws EmbeddedPostgresMissingError when the optional `embedded-postgres` package is missing,
 * and an Error carrying the server's last log lines when PostgreSQL does not start.
 *
 * @throws {EmbeddedPostgresMissingError} when the optional `embedded-postgres` package is not installed.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = resolve(process.cwd(), options.dataDir);
  const pgDir = join(dataDir, 'pg');
  const database = options.database ?? 'kagzi';
  const recent: string[] = []; // last server lines: the error names them when postgres exits early
  const forward = (text: string): void => {
    for (const line of text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean)) {
      if (recent.push(line) > 6) recent.shift();
      if (/ERROR|FATAL|PANIC/.test(line)) options.log?.(line);
    }
  };
  await mkdir(dataDir, { recursive: true });
  // PostgreSQL refuses to run as root: as root it runs as the `postgres` OS user, who must reach pgDir
  const user = await postgresOsUser();
  if (user) await makeTraversable(dataDir, options.log);
  await stopOrphanedServer(pgDir, join(dataDir, OWNER_FILE));
  const password = await loadOrCreatePassword(dataDir);
  const port = options.port ?? (await findFreePort());
  let server: PostgresProcess | undefined;
  try {
    const { initdb, postgres } = await postgresBinaries();
    if (!existsSync(join(pgDir, 'PG_VERSION'))) {
      await mkdir(pgDir, { recursive: true, mode: 0o700 });
      if (user) await chown(pgDir, user.uid, user.gid);
      await withInitdbPasswordFile(dataDir, password, user, (pwFile) => initCluster(initdb, pgDir, pwFile, user, forward));
    }
    // loopback TCP only, and no unix socket files left behind in /tmp
    const args = ['-D', pgDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
    server = await startPostgres(postgres, args, user, forward);
    await ensureDatabase(port, password, database, options.log);
    await writeFile(join(dataDir, OWNER_FILE), `${process.pid}\n`);
  } catch (e: unknown) {
    await server?.stop();
    const detail = [e instanceof Error ? e.message : String(e), ...recent].join(' | ');
    throw new Error(`Embedded PostgreSQL failed to start in ${pgDir} on port ${port}: ${detail}`, { cause: e });
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return { url, port, dataDir, pid: server.pid, stop: server.stop };
}

/** The `postgres` OS user must be able to reach `dataDir`: add o+x to ancestors that lack it. */
async function makeTraversable(dataDir: string, log?: (line: string) => void): Promise<void> {
  for (let dir = dataDir; dir !== dirname(dir); dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) !== 0) continue;
    await chmod(dir, (mode & 0o7777) | 0o001);
    log?.(`made ${dir} traversable (o+x) for the postgres OS user`);
  }
}

async function findFreePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done, fail) => probe.once('error', fail).listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

async function ensureDatabase(port: number, password: string, database: string, log?: (line: string) => void): Promise<void> {
  const client = await connectAsSuperuser(port, password, 'postgres', log);
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
