/**
 * Helpers for opt-in specs that start servers beside the local test PostgreSQL (127.0.0.1:5432): free
 * ports, commands run as the `postgres` OS user (PostgreSQL and PgBouncer refuse root), temporary
 * directories that user owns.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { adminUrl } from '../../support/database';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const PRIMARY = { host: '127.0.0.1', port: 5432 };

/** The jest run's admin URL must name the local server: a replica or a PgBouncer of it is built from 127.0.0.1:5432. */
export function assertLocalPrimary(): string {
  const url = new URL(adminUrl());
  if (url.hostname !== PRIMARY.host || Number(url.port || 5432) !== PRIMARY.port) {
    throw new Error(`opt-in specs need the local PostgreSQL at ${PRIMARY.host}:${PRIMARY.port}; the tests use ${url.host} (unset KAGZI_TEST_DATABASE_URL)`);
  }
  return url.toString();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const asRoot = process.getuid?.() === 0;

/** Runs a program as the postgres OS user when this process is root (else as itself); returns its stdout. */
export function runAsPostgres(program: string, args: string[], options: { timeoutMs?: number } = {}): string {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
  return execFileSync(file, argv, { encoding: 'utf8', timeout: options.timeoutMs ?? 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A temporary directory the postgres OS user owns (mode 0700, as a data directory must be). */
export function postgresTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  return dir;
}

/** Runs `work` with a client on `url`, then closes it. */
export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `url` with another port, database or query parameters. */
export function withUrl(url: string, change: { port?: number; database?: string; params?: Record<string, string> }): string {
  const parsed = new URL(url);
  if (change.port !== undefined) parsed.port = String(change.port);
  if (change.database !== undefined) parsed.pathname = `/${change.database}`;
  for (const [key, value] of Object.entries(change.params ?? {})) parsed.searchParams.set(key, value);
  return parsed.toString();
}
