/**
 * A real streaming replica of the local test PostgreSQL (127.0.0.1:5432), for the read-replica spec:
 * `pg_basebackup -R` of the primary into a temporary directory, started with `pg_ctl` on a free port as
 * the postgres OS user, every statement logged with its application name. No replication slot: a replica
 * left behind never makes the primary keep WAL for it.
 *
 * The primary must accept replication connections from 127.0.0.1. If its pg_hba.conf has no such
 * entry, one line is appended (`host replication all 127.0.0.1/32 trust`, with a comment) and the
 * configuration reloaded: the only change made to the primary, and made once. wal_level and
 * max_wal_senders need a restart to change, so they are checked, not changed.
 */
import { appendFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../support/app';
import { freePort, PG_BIN, postgresTempDir, PRIMARY, runAsPostgres, withClient, withUrl } from './local-postgres';

export interface StreamingReplica {
  port: number;
  /** A URL of `database` on the replica (same user as the primary's admin URL). */
  url(database: string, params?: Record<string, string>): string;
  /** Waits until the replica has replayed everything the primary had written when this was called. */
  catchUp(timeoutMs?: number): Promise<void>;
  /** Stops applying WAL (it is still received): the replica's data stays as it is now. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Bytes logged so far: pass it to `logSince` to read what came after. */
  logMark(): number;
  /** Log lines written after `mark`. */
  logSince(mark: number): string[];
  /** Stops the server (immediate) and deletes its directory. Idempotent. */
  stop(): Promise<void>;
}

const HBA_LINE = 'host replication all 127.0.0.1/32 trust';

/** What the replica must match or exceed: PostgreSQL refuses a hot standby with less than its primary. */
const MATCHED_SETTINGS = ['max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction'];

export async function startStreamingReplica(primaryAdminUrl: string): Promise<StreamingReplica> {
  const matched = await preparePrimary(primaryAdminUrl);
  const port = await freePort();
  const dir = postgresTempDir('kagzi-replica-');
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'replica.log');
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      runAsPostgres(`${PG_BIN}/pg_ctl`, ['-D', dataDir, '-m', 'immediate', 'stop'], { timeoutMs: 30_000 });
    } catch {
      // never started, or already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await baseBackup(dataDir);
    writeFileSync(join(dataDir, 'postgresql.conf'), replicaConfig(port, dir, matched));
    writeFileSync(join(dataDir, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
    writeFileSync(join(dataDir, 'pg_ident.conf'), '');
    runAsPostgres(`${PG_BIN}/pg_ctl`, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start'], { timeoutMs: 90_000 });
  } catch (err: unknown) {
    const log = readLog(logFile);
    await stop();
    throw new Error(`the streaming replica did not start: ${failureText(err)}${log ? `\n${log.slice(-2000)}` : ''}`, { cause: err });
  }
  const admin = withUrl(primaryAdminUrl, { port });
  const replica: StreamingReplica = {
    port,
    url: (database, params) => withUrl(primaryAdminUrl, { port, database, params }),
    catchUp: async (timeoutMs = 30_000) => {
      const lsn = await withClient(primaryAdminUrl, async (c) => (await c.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0].lsn);
      await waitFor(`the replica to replay up to ${lsn}`, () =>
        withClient(admin, async (c) => ((await c.query<{ ok: boolean }>('select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok', [lsn])).rows[0].ok ? true : undefined)),
        timeoutMs,
      );
    },
    pauseReplay: async () => {
      await withClient(admin, (c) => c.query('select pg_wal_replay_pause()'));
      await waitFor('replay to pause', () =>
        withClient(admin, async (c) => ((await c.query<{ state: string }>('select pg_get_wal_replay_pause_state() as state')).rows[0].state === 'paused' ? true : undefined)),
      );
    },
    resumeReplay: async () => {
      await withClient(admin, (c) => c.query('select pg_wal_replay_resume()'));
    },
    logMark: () => statSync(logFile).size,
    logSince: (mark) => readFileSync(logFile).subarray(mark).toString('utf8').split('\n').filter((line) => line.length > 0),
    stop,
  };
  try {
    await waitFor('the replica to stream from the primary', () =>
      withClient(admin, async (c) => ((await c.query<{ n: number }>("select count(*)::int as n from pg_stat_wal_receiver where status = 'streaming'")).rows[0].n === 1 ? true : undefined)),
    );
    await replica.catchUp();
  } catch (err: unknown) {
    await stop();
    throw err;
  }
  return replica;
}

/** Checks what needs a restart, allows replication from 127.0.0.1 if it is not yet, and returns the settings the replica must match. */
async function preparePrimary(primaryAdminUrl: string): Promise<Record<string, string>> {
  return withClient(primaryAdminUrl, async (c) => {
    const settings = Object.fromEntries(
      (await c.query<{ name: string; setting: string }>('select name, setting from pg_settings where name = any($1)', [[...MATCHED_SETTINGS, 'wal_level', 'hba_file']])).rows.map((r) => [r.name, r.setting]),
    );
    if (settings.wal_level === 'minimal' || Number(settings.max_wal_senders) < 1) {
      throw new Error(`the primary at ${PRIMARY.host}:${PRIMARY.port} cannot stream WAL (wal_level ${settings.wal_level}, max_wal_senders ${settings.max_wal_senders}); set wal_level = replica and restart it`);
    }
    const { rows } = await c.query<{ n: number }>(
      "select count(*)::int as n from pg_hba_file_rules where type = 'host' and 'replication' = any(database) and address in ('127.0.0.1', 'all', 'samehost') and auth_method = 'trust' and error is null",
    );
    if (rows[0].n === 0) {
      appendFileSync(settings.hba_file, `\n# Kagzi's opt-in replica spec (test/opt-in): replication connections from this host\n${HBA_LINE}\n`);
      await c.query('select pg_reload_conf()');
    }
    return Object.fromEntries(MATCHED_SETTINGS.map((name) => [name, settings[name]]));
  });
}

/** pg_basebackup of the primary with -R (standby.signal and primary_conninfo); retried while a just-reloaded pg_hba.conf takes effect. */
async function baseBackup(dataDir: string): Promise<void> {
  const args = ['-h', PRIMARY.host, '-p', String(PRIMARY.port), '-U', 'postgres', '-D', dataDir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync'];
  for (let attempt = 1; ; attempt++) {
    try {
      runAsPostgres(`${PG_BIN}/pg_basebackup`, args, { timeoutMs: 120_000 });
      return;
    } catch (err: unknown) {
      if (attempt >= 5) throw err;
      rmSync(dataDir, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function replicaConfig(port: number, socketDir: string, matched: Record<string, string>): string {
  return [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${socketDir}'`,
    'hot_standby = on',
    ...Object.entries(matched).map(([name, value]) => `${name} = ${value}`),
    'shared_buffers = 32MB',
    'fsync = off', // a disposable test server
    "log_statement = 'all'",
    "log_line_prefix = '%a|%d|'",
    'logging_collector = off',
    '',
  ].join('\n');
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function failureText(err: unknown): string {
  const stderr = (err as { stderr?: unknown }).stderr;
  return `${err instanceof Error ? err.message : String(err)}${typeof stderr === 'string' && stderr ? `: ${stderr.trim()}` : ''}`;
}
