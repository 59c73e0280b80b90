import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { resolveEmbeddedPostgres } from './embedded-postgres.package';

/** The OS user PostgreSQL runs as when this process is root (PostgreSQL refuses to run as root). */
export interface OsUser {
  uid: number;
  gid: number;
}

/** A postmaster this process started. */
export interface PostgresProcess {
  pid: number;
  /** Fast shutdown (SIGINT): disconnects clients, checkpoints, exits. Resolves once it has exited. */
  stop(): Promise<void>;
}

const run = promisify(execFile);
// every message the code below waits for or forwards is matched in English
const ENV = { ...process.env, LC_MESSAGES: 'C' };

/** initdb and postgres from the platform package that `embedded-postgres` installs. */
export async function postgresBinaries(): Promise<{ initdb: string; postgres: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  // an optional dependency of embedded-postgres: resolved from there, and only its path (the package is ESM)
  const entry = require.resolve(`@embedded-postgres/${platform}-${process.arch}`, { paths: [dirname(resolveEmbeddedPostgres())] });
  const bin = join(dirname(entry), '..', 'native', 'bin');
  const exe = process.platform === 'win32' ? '.exe' : '';
  const binaries = { initdb: join(bin, `initdb${exe}`), postgres: join(bin, `postgres${exe}`) };
  for (const file of Object.values(binaries)) {
    const { mode } = await stat(file);
    if ((mode & 0o555) !== 0o555) await chmod(file, mode | 0o555); // tarball extraction may drop the x bits
  }
  return binaries;
}

/** As root, the `postgres` OS user, created if missing; otherwise undefined (run as this process's user). */
export async function postgresOsUser(): Promise<OsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookUp = async (): Promise<OsUser> => {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  };
  try {
    return await lookUp();
  } catch {
    await run('groupadd', ['-f', 'postgres']);
    await run('useradd', ['-g', 'postgres', 'postgres']);
    return lookUp();
  }
}

/** Runs initdb with password authentication for every connection; `pwFile` holds the superuser's password. */
export async function initCluster(initdb: string, pgDir: string, pwFile: string, user: OsUser | undefined, onOutput: (text: string) => void): Promise<void> {
  const args = [`--pgdata=${pgDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwFile}`, '--lc-messages=C'];
  const child = spawn(initdb, args, { ...user, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', onOutput);
  child.stderr.setEncoding('utf8').on('data', onOutput);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done, fail) => {
    child.once('error', fail).once('close', (c: number | null, s: NodeJS.Signals | null) => done([c, s]));
  });
  if (code !== 0) throw new Error(`initdb failed (${code ?? signal})`);
}

/**
 * Starts the postmaster in a session of its own (detached): a terminal's Ctrl-C goes to the foreground
 * process group, i.e. the app, which then drains its worker and stops this server itself, last.
 */
export async function startPostgres(postgres: string, args: string[], user: OsUser | undefined, onOutput: (text: string) => void): Promise<PostgresProcess> {
  const child = spawn(postgres, [...args, '-c', 'lc_messages=C'], { ...user, env: ENV, detached: process.platform !== 'win32', stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  child.stdout.setEncoding('utf8').on('data', onOutput);
  await new Promise<void>((ready, fail) => {
    let tail = ''; // the line may arrive split over two chunks
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      onOutput(text);
      tail = (tail + text).slice(-200);
      if (tail.includes('database system is ready to accept connections')) ready();
    });
    child.once('error', fail);
    void exited.then(() => fail(new Error(`postgres exited (${child.exitCode ?? child.signalCode})`)));
  });
  // a safety net for process.exit() without a close: the server shuts itself down rather than lingering
  const onExit = (): void => void signal(child, 'SIGINT');
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.removeListener('exit', onExit);
      if (!signal(child, 'SIGINT')) return exited;
      // fast shutdown waits for a checkpoint; immediate shutdown (SIGQUIT) if that takes unusually long
      const timer = setTimeout(() => signal(child, 'SIGQUIT'), 15_000);
      await exited;
      clearTimeout(timer);
    })());
  return { pid: child.pid ?? 0, stop };
}

function signal(child: ChildProcess, sig: NodeJS.Signals): boolean {
  return child.exitCode === null && child.signalCode === null && child.kill(sig);
}

/** A SIGKILLed app leaves its (detached) postgres running and holding the cluster: stop it. */
export async function stopOrphanedServer(pgDir: string, ownerFile: string): Promise<void> {
  const pidFile = join(pgDir, 'postmaster.pid');
  const pid = await readPid(pidFile);
  // only a live postgres serving this very cluster (pids get reused); no /proc (macOS): postgres reports the lock
  const cmdline = pid && isAlive(pid) ? await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '') : '';
  if (!pid || !cmdline.includes(pgDir)) return;
  const owner = await readPid(ownerFile);
  if (owner && isAlive(owner)) throw new Error(`Embedded PostgreSQL in ${dirname(pgDir)} is in use by process ${owner}`);
  process.kill(pid, 'SIGINT'); // fast shutdown: disconnect clients, checkpoint, exit
  // postgres deletes its pid file last; the exited orphan may linger as a zombie until init reaps it
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(25)) {
    if (!existsSync(pidFile) || !isAlive(pid)) return;
  }
  throw new Error(`PostgreSQL (pid ${pid}) still runs on ${pgDir} and did not stop within 10 s`);
}

export const readPid = async (file: string): Promise<number> =>
  Number.parseInt((await readFile(file, 'utf8').catch(() => '')).split('\n')[0], 10) || 0; // 0: none

export function isAlive(pid: number): boolean {
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
