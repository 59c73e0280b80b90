import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/** Durable retries: every attempt of a step is a row; a step waiting for its next attempt keeps its count. */
export class KagziStepAttempts1764100000002 implements MigrationInterface {
  name = 'KagziStepAttempts1764100000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".step_runs add column attempts integer not null default 1`);
    await queryRunner.query(`alter table "${s}".step_runs add column next_attempt_at timestamptz`);
    await queryRunner.query(`
      create table "${s}".step_attempts (
        workflow_run_id uuid not null references "${s}".workflow_runs (id) on delete cascade,
        step_key text not null,
        attempt integer not null check (attempt >= 1),
        started_at timestamptz not null,
        finished_at timestamptz,
        error jsonb,
        primary key (workflow_run_id, step_key, attempt)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop table "${s}".step_attempts`);
    await queryRunner.query(`alter table "${s}".step_runs drop column next_attempt_at`);
    await queryRunner.query(`alter table "${s}".step_runs drop column attempts`);
  }
}
