import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/**
 * `run_steps(run)`: what a run recorded, as the JSON array the claim returns with a resumed run
 * (claim-runs.sql.ts). It is a volatile function so that it reads with a snapshot of its own, taken when
 * it is called: after the claim has locked the run. `due_runs()` (migration 17) is volatile too and
 * finds due runs with a snapshot newer than the claim statement's, so a run made due by a transaction
 * that committed while the claim was starting (a signal, a child's end, a short back-off, a skipped
 * clock) is claimed; read with the statement's own snapshot, its steps then missed what that same
 * transaction recorded, and the run replayed a history older than its row.
 */
export class KagziRunSteps1764100000018 implements MigrationInterface {
  name = 'KagziRunSteps1764100000018';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`
      create or replace function "${s}".run_steps(p_run uuid) returns json language plpgsql volatile as $fn$
      begin
        return (
          select coalesce(json_agg(json_build_object(
                   'step_key', g.step_key, 'step_name', g.step_name, 'kind', g.kind, 'status', g.status, 'args_hash', g.args_hash,
                   'output', g.output, 'error', g.error, 'attempts', g.attempts, 'next_attempt_at', g.next_attempt_at, 'started_at', g.started_at)), '[]'::json)
          from "${s}".step_runs g where g.workflow_run_id = p_run);
      end
      $fn$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop function if exists "${s}".run_steps(uuid)`);
  }
}
