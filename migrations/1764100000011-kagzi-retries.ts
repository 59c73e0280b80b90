import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * `client.retry`: a FAILED or CANCELLED run runs again under the same id. `workflow_runs.run_try`
 * counts the tries (1 for the first); each retry is kept in `run_retries` with what it replaced, and
 * attempts record the try they belong to, so a retried step's fresh attempt series (1, 2, …) sits
 * beside the attempts of earlier tries.
 */
export class KagziRetries1764100000011 implements MigrationInterface {
  name = 'KagziRetries1764100000011';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".workflow_runs add column run_try integer not null default 1`);
    await queryRunner.query(`
      create table "${s}".run_retries (
        id bigint generated always as identity primary key,
        workflow_run_id uuid not null references "${s}".workflow_runs (id) on delete cascade,
        retried_at timestamptz not null default now(),
        previous_status text not null,
        previous_error jsonb
      )`);
    await queryRunner.query(`create index run_retries_by_run on "${s}".run_retries (workflow_run_id, id)`);
    await queryRunner.query(`alter table "${s}".step_attempts add column run_try integer not null default 1`);
    await queryRunner.query(`alter table "${s}".step_attempts drop constraint step_attempts_pkey`);
    await queryRunner.query(`alter table "${s}".step_attempts add primary key (workflow_run_id, step_key, run_try, attempt)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`delete from "${s}".step_attempts where run_try > 1`);
    await queryRunner.query(`alter table "${s}".step_attempts drop constraint step_attempts_pkey`);
    await queryRunner.query(`alter table "${s}".step_attempts add primary key (workflow_run_id, step_key, attempt)`);
    await queryRunner.query(`alter table "${s}".step_attempts drop column run_try`);
    await queryRunner.query(`drop table "${s}".run_retries`);
    await queryRunner.query(`alter table "${s}".workflow_runs drop column run_try`);
  }
}
