import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/** The run queue, completed steps, and the registry of served (workflow, version) pairs. */
export class KagziInit1764100000001 implements MigrationInterface {
  name = 'KagziInit1764100000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`create schema if not exists "${s}"`);
    // input/output are `json`, not `jsonb`: json keeps the text as written, so object key order
    // on replay is what the first execution saw.
    await queryRunner.query(`
      create table "${s}".workflow_runs (
        id uuid primary key,
        workflow_name text not null,
        workflow_version integer not null,
        status text not null check (status in ('PENDING','RUNNING','SLEEPING','COMPLETED','FAILED','CANCELLED')),
        input json,
        output json,
        error jsonb,
        idempotency_key text,
        due_at timestamptz,
        lease_owner text,
        lease_epoch integer not null default 0,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        started_at timestamptz,
        completed_at timestamptz,
        constraint workflow_runs_idempotency_key unique (workflow_name, idempotency_key),
        constraint workflow_runs_due_iff_live check ((due_at is null) = (status in ('COMPLETED','FAILED','CANCELLED')))
      )`);
    // The claim query walks this index in due order; terminal runs (due_at null) are not in it.
    await queryRunner.query(`create index workflow_runs_due on "${s}".workflow_runs (due_at) where due_at is not null`);
    await queryRunner.query(`create index workflow_runs_created on "${s}".workflow_runs (created_at desc, id desc)`);
    // Live runs only: counting or draining in-flight runs of a version stays cheap however long the
    // history grows, and the claim can never pick an index that walks finished runs.
    await queryRunner.query(
      `create index workflow_runs_live_by_name on "${s}".workflow_runs (workflow_name, workflow_version, status) where due_at is not null`,
    );
    // A queue table churns: analyze it early so the planner keeps using the due index.
    await queryRunner.query(
      `alter table "${s}".workflow_runs set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)`,
    );
    await queryRunner.query(`
      create table "${s}".step_runs (
        id bigint generated always as identity primary key,
        workflow_run_id uuid not null references "${s}".workflow_runs (id) on delete cascade,
        step_key text not null,
        step_name text not null,
        kind text not null default 'STEP' check (kind in ('STEP','SLEEP')),
        status text not null check (status in ('RUNNING','COMPLETED','FAILED')),
        args_hash text,
        output json,
        error jsonb,
        started_at timestamptz not null default now(),
        completed_at timestamptz,
        constraint step_runs_run_key unique (workflow_run_id, step_key)
      )`);
    await queryRunner.query(`
      create table "${s}".workflow_versions (
        workflow_name text not null,
        version integer not null,
        registered_at timestamptz not null default now(),
        last_seen_at timestamptz not null default now(),
        primary key (workflow_name, version)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop table "${s}".workflow_versions`);
    await queryRunner.query(`drop table "${s}".step_runs`);
    await queryRunner.query(`drop table "${s}".workflow_runs`);
  }
}
