import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * Rules several statements share, defined once in the database: when a worker counts as live, and how
 * a (workflow, version) pair is written in `workers.workflows`. Both are single-expression SQL
 * functions, which the planner inlines: a statement that calls them runs the same plan as before.
 */
export class KagziSharedRules1764100000006 implements MigrationInterface {
  name = 'KagziSharedRules1764100000006';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    // Live: the last heartbeat is younger than 3 of the worker's own intervals (LIVE_WORKER_HEARTBEATS),
    // so one or two late or failed ticks do not make a busy worker look dead.
    await queryRunner.query(`
      create function "${s}".worker_is_live(p_last_heartbeat_at timestamptz, p_heartbeat_interval_ms integer)
      returns boolean language sql stable as $fn$
        select p_last_heartbeat_at > now() - 3 * p_heartbeat_interval_ms * interval '1 millisecond'
      $fn$`);
    // The explicit ::text cast keeps the body immutable (integer || text alone resolves to a stable operator).
    await queryRunner.query(`
      create function "${s}".workflow_pair(p_name text, p_version integer)
      returns text language sql immutable as $fn$
        select p_name || '@' || p_version::text
      $fn$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop function "${s}".workflow_pair(text, integer)`);
    await queryRunner.query(`drop function "${s}".worker_is_live(timestamptz, integer)`);
  }
}
