import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * Child workflows: a run started by another run records its parent and what happens to it when the
 * parent is cancelled. The parent records the child's run id as a step of kind CHILD.
 */
export class KagziChildren1764100000009 implements MigrationInterface {
  name = 'KagziChildren1764100000009';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".workflow_runs add column parent_run_id uuid references "${s}".workflow_runs (id) on delete set null`);
    await queryRunner.query(`
      alter table "${s}".workflow_runs add column on_parent_close text not null default 'cancel'
        check (on_parent_close in ('cancel','abandon'))`);
    await queryRunner.query(`create index workflow_runs_children on "${s}".workflow_runs (parent_run_id) where parent_run_id is not null`);
    await queryRunner.query(`alter table "${s}".step_runs drop constraint step_runs_kind_check`);
    await queryRunner.query(`
      alter table "${s}".step_runs add constraint step_runs_kind_check
        check (kind in ('STEP','SLEEP','GROUP','SIGNAL','EVENT','CHILD'))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`delete from "${s}".step_runs where kind = 'CHILD'`);
    await queryRunner.query(`alter table "${s}".step_runs drop constraint step_runs_kind_check`);
    await queryRunner.query(`
      alter table "${s}".step_runs add constraint step_runs_kind_check
        check (kind in ('STEP','SLEEP','GROUP','SIGNAL','EVENT'))`);
    await queryRunner.query(`alter table "${s}".workflow_runs drop column on_parent_close`);
    await queryRunner.query(`alter table "${s}".workflow_runs drop column parent_run_id`);
  }
}
