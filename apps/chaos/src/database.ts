import { Client, Pool } from 'pg';

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const CHAOS_DATABASE = 'kagzi_chaos';

/** Drops and recreates `kagzi_chaos` on `adminUrl`'s server (default KAGZI_CHAOS_ADMIN_URL); returns its URL. */
export async function recreateDatabase(adminUrl: string = process.env.KAGZI_CHAOS_ADMIN_URL || DEFAULT_ADMIN_URL): Promise<string> {
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${CHAOS_DATABASE} with (force)`);
    await admin.query(`create database ${CHAOS_DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${CHAOS_DATABASE}`;
  return url.toString();
}

/**
 * Instrumentation, created after Kagzi's migrations (the engine's own statements are unchanged):
 * - public.chaos_effects: one row when a step body starts and one when it ends, written by the body itself;
 * - public.chaos_run_audit: an AFTER trigger copies every insert, and every update that changes the
 *   status, owner, epoch or due time, of kagzi.workflow_runs (claims, lease renewals, parks, finishes),
 *   stamped with clock_timestamp().
 */
export async function installInstrumentation(pool: Pool, schema = 'kagzi'): Promise<void> {
  await pool.query(`
    create table public.chaos_effects (
      id bigint generated always as identity primary key,
      run_id uuid not null,
      step text not null,
      exec_id uuid not null,
      worker text not null,
      pid int not null,
      phase text not null check (phase in ('start', 'ok', 'error')),
      at timestamptz not null default clock_timestamp()
    );
    create index chaos_effects_run_step on public.chaos_effects (run_id, step);
    -- a body retries its ledger writes through a database restart; a retried write must not count twice
    create unique index chaos_effects_exec_phase on public.chaos_effects (exec_id, phase);
    create table public.chaos_run_audit (
      id bigint generated always as identity primary key,
      run_id uuid not null,
      status text not null,
      lease_owner text,
      lease_epoch int not null,
      due_at timestamptz,
      at timestamptz not null default clock_timestamp()
    );
    create index chaos_run_audit_run on public.chaos_run_audit (run_id, id);
    create index chaos_run_audit_owner on public.chaos_run_audit (lease_owner, at);
    create function public.chaos_audit_run() returns trigger language plpgsql as $$
    begin
      insert into public.chaos_run_audit (run_id, status, lease_owner, lease_epoch, due_at)
      values (new.id, new.status, new.lease_owner, new.lease_epoch, new.due_at);
      return new;
    end $$;
    create trigger chaos_audit_insert after insert on "${schema}".workflow_runs
      for each row execute function public.chaos_audit_run();
    create trigger chaos_audit_update after update on "${schema}".workflow_runs
      for each row when (old.status is distinct from new.status or old.lease_owner is distinct from new.lease_owner
                         or old.lease_epoch is distinct from new.lease_epoch or old.due_at is distinct from new.due_at)
      execute function public.chaos_audit_run();
  `);
}

/** Server facts printed with the figures. */
export async function describeServer(pool: Pool): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ name: string; setting: string }>(
    `select name, setting from pg_settings where name in ('server_version', 'max_connections', 'synchronous_commit', 'fsync')`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
}
