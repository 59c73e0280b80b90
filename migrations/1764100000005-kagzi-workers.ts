import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/** The worker registry (who is alive, what it serves) and its event log. */
export class KagziWorkers1764100000005 implements MigrationInterface {
  name = 'KagziWorkers1764100000005';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`
      create table "${s}".workers (
        id uuid primary key,
        name text not null,
        hostname text not null,
        pid integer not null,
        status text not null check (status in ('RUNNING','DRAINING','STOPPED','LOST')),
        started_at timestamptz not null default now(),
        last_heartbeat_at timestamptz not null default now(),
        stopped_at timestamptz,
        concurrency integer not null,
        heartbeat_interval_ms integer not null,
        active_runs integer not null default 0,
        workflows text[] not null,
        library_version text not null
      )`);
    // A name is unique among live workers; a restarted worker may reuse the name of a stopped one.
    await queryRunner.query(`create unique index workers_live_name on "${s}".workers (name) where status in ('RUNNING','DRAINING')`);
    await queryRunner.query(`create index workers_stopped_at on "${s}".workers (stopped_at) where stopped_at is not null`);
    await queryRunner.query(`
      create table "${s}".worker_events (
        id bigint generated always as identity primary key,
        worker_id uuid not null,
        worker_name text not null,
        event_type text not null,
        data jsonb,
        at timestamptz not null default now()
      )`);
    await queryRunner.query(`create index worker_events_at on "${s}".worker_events (at)`);
    await queryRunner.query(`create index worker_events_worker on "${s}".worker_events (worker_id, at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop table "${s}".worker_events`);
    await queryRunner.query(`drop table "${s}".workers`);
  }
}
