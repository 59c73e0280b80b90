import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/** Versioning: a database-held default per workflow name (at most one), and deprecation. */
export class KagziVersions1764100000004 implements MigrationInterface {
  name = 'KagziVersions1764100000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`alter table "${s}".workflow_versions add column is_default boolean not null default false`);
    await queryRunner.query(`alter table "${s}".workflow_versions add column deprecated_at timestamptz`);
    // Any process records its @Workflow classes; only a worker's record says the version is really run somewhere.
    await queryRunner.query(`alter table "${s}".workflow_versions add column worker_seen_at timestamptz`);
    // The version start() uses without options.version, defined once: the default that was set, else the
    // highest non-deprecated version a worker has served, else the highest non-deprecated one at all.
    await queryRunner.query(`
      create function "${s}".default_version(p_name text) returns integer language sql stable as $fn$
        select coalesce(
          (select version from "${s}".workflow_versions where workflow_name = p_name and is_default),
          (select max(version) from "${s}".workflow_versions where workflow_name = p_name and deprecated_at is null and worker_seen_at is not null),
          (select max(version) from "${s}".workflow_versions where workflow_name = p_name and deprecated_at is null)
        )
      $fn$`);
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
    await queryRunner.query(`drop function "${s}".default_version(text)`);
    await queryRunner.query(`alter table "${s}".workflow_versions drop column worker_seen_at`);
    await queryRunner.query(`alter table "${s}".workflow_versions drop column deprecated_at`);
    await queryRunner.query(`alter table "${s}".workflow_versions drop column is_default`);
  }
}
