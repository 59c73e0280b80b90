import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * Events: values a run publishes by key for clients to read (`ctx.setEvent` / `client.getEvent`). One
 * row per (run, key), overwritten by a later set; each set is recorded as a step of kind EVENT in the
 * statement that writes it, so a replay never writes it again.
 */
export class KagziEvents1764100000008 implements MigrationInterface {
  name = 'KagziEvents1764100000008';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".step_runs drop constraint step_runs_kind_check`);
    await queryRunner.query(`alter table "${s}".step_runs add constraint step_runs_kind_check check (kind in ('STEP','SLEEP','GROUP','SIGNAL','EVENT'))`);
    await queryRunner.query(`
      create table "${s}".run_events (
        workflow_run_id uuid not null references "${s}".workflow_runs (id) on delete cascade,
        key text not null,
        value json,
        set_at timestamptz not null default now(),
        primary key (workflow_run_id, key)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop table "${s}".run_events`);
    await queryRunner.query(`delete from "${s}".step_runs where kind = 'EVENT'`);
    await queryRunner.query(`alter table "${s}".step_runs drop constraint step_runs_kind_check`);
    await queryRunner.query(`alter table "${s}".step_runs add constraint step_runs_kind_check check (kind in ('STEP','SLEEP','GROUP','SIGNAL'))`);
  }
}
