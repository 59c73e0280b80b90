import { Client } from 'pg';

/** Database the bench boots its apps against. `database` undefined: the library's own default (embedded). */
export interface BenchTarget {
  database?: { url: string };
  schema: string;
  label: string;
}

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const BENCH_DATABASE = 'kagzi_bench';
/** Every bench table lives here, so a shared or embedded database keeps its own `kagzi` schema untouched. */
export const BENCH_SCHEMA = 'kagzi_bench';

/**
 * A fresh database for this bench run: KAGZI_BENCH_DATABASE_URL (its `kagzi_bench` schema is dropped),
 * else `kagzi_bench` dropped and recreated on the local server (KAGZI_BENCH_ADMIN_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres), else the library's default (embedded) with no database option.
 */
export async function prepareBenchTarget(env: NodeJS.ProcessEnv = process.env): Promise<BenchTarget> {
  const fromEnv = env.KAGZI_BENCH_DATABASE_URL;
  if (fromEnv) {
    await withClient(fromEnv, (c) => c.query(`drop schema if exists "${BENCH_SCHEMA}" cascade`));
    return { database: { url: fromEnv }, schema: BENCH_SCHEMA, label: `KAGZI_BENCH_DATABASE_URL (${redact(fromEnv)}), schema ${BENCH_SCHEMA} recreated` };
  }
  const adminUrl = env.KAGZI_BENCH_ADMIN_URL || DEFAULT_ADMIN_URL;
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    await admin.end().catch(() => undefined);
    return { schema: BENCH_SCHEMA, label: `the library's default database (embedded PostgreSQL unless KAGZI_DATABASE_URL/DATABASE_URL is set; ${redact(adminUrl)} unreachable)` };
  }
  try {
    await admin.query(`drop database if exists ${BENCH_DATABASE} with (force)`);
    await admin.query(`create database ${BENCH_DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${BENCH_DATABASE}`;
  return { database: { url: url.toString() }, schema: BENCH_SCHEMA, label: `${url.toString()} (recreated)` };
}

export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The server facts that bound the figures: durability settings decide what a commit costs. */
export async function describeServer(client: Client): Promise<Record<string, string>> {
  const { rows } = await client.query<{ name: string; setting: string }>(
    `select name, setting from pg_settings
     where name in ('server_version','synchronous_commit','fsync','wal_sync_method','commit_delay','full_page_writes','max_connections','shared_buffers')`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
}

/** Next transaction id to be assigned, cluster-wide: the delta counts transactions that wrote (each one commit). */
export async function nextXid(client: Client): Promise<number> {
  const { rows } = await client.query<{ xid: string }>('select pg_snapshot_xmax(pg_current_snapshot())::text as xid');
  return Number(rows[0].xid);
}

/** Whether the server runs on this machine (so its processes' CPU can be read from /proc). */
export function isLocalServer(url: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]', ''].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
