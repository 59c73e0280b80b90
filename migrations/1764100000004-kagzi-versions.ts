import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/** Versioning: a database-held default per workflow name (at most one), and deprecation. */
export class KagziVersions1764100000004 implements MigrationInterface {
  name = 'KagziVersions1764100000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".workflow_versions add column is_default boolean not null default false`);
    await queryRunner.query(`alter table "${s}".workflow_versions add column deprecated_at timestamptz`);
    // Deferred, so switching the default is one UPDATE that clears the old row and sets the new one.
    await queryRunner.query(
      `alter table "${s}".workflow_versions add constraint workflow_versions_one_default
         exclude using btree (workflow_name with =) where (is_default) deferrable initially deferred`,
    );
    await queryRunner.query(
      `alter table "${s}".workflow_versions add constraint workflow_versions_default_not_deprecated
         check (not (is_default and deprecated_at is not null))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".workflow_versions drop constraint workflow_versions_default_not_deprecated`);
    await queryRunner.query(`alter table "${s}".workflow_versions drop constraint workflow_versions_one_default`);
    await queryRunner.query(`alter table "${s}".workflow_versions drop column deprecated_at`);
    await queryRunner.query(`alter table "${s}".workflow_versions drop column is_default`);
  }
}
