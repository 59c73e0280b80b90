import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * Parallel branches: a step records the group it ran in and the branch within it; a group that must
 * be remembered (a race's winner) is a row of its own, kind GROUP.
 */
export class KagziParallelGroups1764100000003 implements MigrationInterface {
  name = 'KagziParallelGroups1764100000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".step_runs add column parallel_group_id text`);
    await queryRunner.query(`alter table "${s}".step_runs add column parent_step_id text`);
    await queryRunner.query(`alter table "${s}".step_runs drop constraint step_runs_kind_check`);
    await queryRunner.query(`alter table "${s}".step_runs add constraint step_runs_kind_check check (kind in ('STEP','SLEEP','GROUP'))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`delete from "${s}".step_runs where kind = 'GROUP'`);
    await queryRunner.query(`alter table "${s}".step_runs drop constraint step_runs_kind_check`);
    await queryRunner.query(`alter table "${s}".step_runs add constraint step_runs_kind_check check (kind in ('STEP','SLEEP'))`);
    await queryRunner.query(`alter table "${s}".step_runs drop column parent_step_id`);
    await queryRunner.query(`alter table "${s}".step_runs drop column parallel_group_id`);
  }
}
