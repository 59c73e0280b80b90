import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * `default_version(name)`, same rule, in PL/pgSQL: a SQL function that is not inlined has its body
 * planned again at every call (about 0.13 ms of server CPU for each run started), while PL/pgSQL keeps
 * the plans of its statements for the session. Same name and signature, so every statement that calls
 * it (and the previous release's) is unchanged.
 */
export class KagziDefaultVersionPlpgsql1764100000016 implements MigrationInterface {
  name = 'KagziDefaultVersionPlpgsql1764100000016';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`
      create or replace function "${s}".default_version(p_name text) returns integer language plpgsql stable as $fn$
      begin
        return coalesce(
          (select version from "${s}".workflow_versions where workflow_name = p_name and is_default),
          (select max(version) from "${s}".workflow_versions where workflow_name = p_name and deprecated_at is null and worker_seen_at is not null),
          (select max(version) from "${s}".workflow_versions where workflow_name = p_name and deprecated_at is null)
        );
      end
      $fn$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`
      create or replace function "${s}".default_version(p_name text) returns integer language sql stable as $fn$
        select coalesce(
          (select version from "${s}".workflow_versions where workflow_name = p_name and is_default),
          (select max(version) from "${s}".workflow_versions where workflow_name = p_name and deprecated_at is null and worker_seen_at is not null),
          (select max(version) from "${s}".workflow_versions where workflow_name = p_name and deprecated_at is null)
        )
      $fn$`);
  }
}
