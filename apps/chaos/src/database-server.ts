/**
 * The disposable PostgreSQL cluster that `--db-restarts` stops and starts (Debian's postgresql-common:
 * pg_createcluster / pg_ctlcluster). The shared server on 5432 is never touched: only this cluster is
 * restarted, so other users of the machine's database see nothing.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);

export interface ClusterRef {
  version: string;
  name: string;
}

/** `15/faults` → { version: '15', name: 'faults' }. */
export function parseCluster(text: string): ClusterRef | undefined {
  const m = /^(\d+)\/([A-Za-z0-9_-]+)$/.exec(text.trim());
  return m ? { version: m[1], name: m[2] } : undefined;
}

export interface RestartRecord {
  /** 1-based. */
  n: number;
  mode: 'fast' | 'immediate';
  /** The stop command was issued. */
  stopAt: number;
  /** The stop command returned (the server is gone). */
  stoppedAt: number;
  /** The start command was issued. */
  startAt: number;
  /** A new session answered `select 1` (after crash recovery, for an immediate stop). */
  upAt: number;
}

/**
 * Creates the cluster on `port` if it does not exist (trust authentication on local connections, as
 * the rest of the chaos test assumes) and starts it if it is down. Returns its admin URL.
 */
export async function ensureCluster(cluster: ClusterRef, port: number, note: (text: string) => void): Promise<string> {
  let found = await describeCluster(cluster);
  if (!found) {
    note(`creating PostgreSQL cluster ${cluster.version}/${cluster.name} on port ${port} (pg_createcluster)`);
    await run('pg_createcluster', [cluster.version, cluster.name, '--port', String(port)]);
    trustLocalConnections(cluster);
    found = await describeCluster(cluster);
    if (!found) throw new Error(`pg_createcluster ${cluster.version} ${cluster.name} did not create the cluster`);
  }
  if (found.status !== 'online') await ctl(cluster, ['start']);
  const url = `postgres://postgres@127.0.0.1:${found.port}/postgres`;
  await waitUntilUp(url, 30_000);
  return url;
}

/**
 * One outage: stop the server (`-m fast`: sessions are told and the server shuts down cleanly;
 * `-m immediate`: a crash, recovery at the next start), stay down `downMs`, start it again.
 */
export async function restartCluster(cluster: ClusterRef, url: string, n: number, mode: 'fast' | 'immediate', downMs: number): Promise<RestartRecord> {
  const stopAt = Date.now();
  await ctl(cluster, ['stop', '-m', mode]);
  const stoppedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, downMs - (stoppedAt - stopAt))));
  const startAt = Date.now();
  // pg_ctlcluster returns up to a second after the server accepts sessions: time "up" by a session of our own.
  const starting = ctl(cluster, ['start']);
  starting.catch(() => undefined);
  await waitUntilUp(url, 60_000);
  const upAt = Date.now();
  await starting;
  return { n, mode, stopAt, stoppedAt, startAt, upAt };
}

async function describeCluster(cluster: ClusterRef): Promise<{ port: number; status: string } | undefined> {
  const { stdout } = await run('pg_lsclusters', ['-h']);
  for (const line of stdout.split('\n')) {
    const [version, name, port, status] = line.trim().split(/\s+/);
    if (version === cluster.version && name === cluster.name) return { port: Number(port), status };
  }
  return undefined;
}

/** A new cluster asks for peer / scram-sha-256 authentication; the chaos test connects as postgres without a password. */
function trustLocalConnections(cluster: ClusterRef): void {
  const file = `/etc/postgresql/${cluster.version}/${cluster.name}/pg_hba.conf`;
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace(/^((?:local|host)\s.*?)\b(peer|scram-sha-256|md5)\s*$/gm, '$1trust'));
}

function ctl(cluster: ClusterRef, args: string[]): Promise<unknown> {
  // --skip-systemctl-redirect: act on the cluster directly, also where systemd is not running
  return run('pg_ctlcluster', ['--skip-systemctl-redirect', cluster.version, cluster.name, ...args]);
}

async function waitUntilUp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (err: unknown) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL at ${url} did not come up within ${timeoutMs} ms: ${String(err)}`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
