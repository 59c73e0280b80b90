import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * Cron schedules (`@Workflow({ schedule })`). One row per (workflow, version) that declares a schedule,
 * written by worker processes at boot; only the row of the workflow's default version ticks, so a new
 * default version's schedule takes over at its next tick. A tick is claimed by moving `next_run_at`
 * past it under the row lock, in the statement that starts the run (see tick-schedules.sql.ts).
 */
export class KagziSchedules1764100000012 implements MigrationInterface {
  name = 'KagziSchedules1764100000012';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    // No foreign key to workflow_runs: last_run_id outlives the run when retention deletes it.
    await queryRunner.query(`
      create table "${s}".schedules (
        workflow_name text not null,
        version integer not null,
        cron text not null,
        timezone text not null,
        next_run_at timestamptz not null,
        last_run_at timestamptz,
        last_run_id uuid,
        skipped integer not null default 0,
        registered_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (workflow_name, version)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop table "${s}".schedules`);
  }
}
