import { MigrationInterface, QueryRunner } from 'typeorm';
import { kagziSchemaOf } from './schema-of';

/** One branch of the claim: the oldest due runs of the served pairs, new (never claimed) or resumed, locked. */
const branch = (s: string, kind: string): string => `
    return query
      select r.id, r.due_at from "${s}".workflow_runs r
      where r.due_at <= now() and ${kind}
        and (r.workflow_name, r.workflow_version) in (select * from unnest(p_names, p_versions))
        and r.id <> all(p_exclude)
      order by r.due_at
      limit p_limit
      for update of r skip locked;`;

/**
 * `due_runs(names, versions, new, limit, exclude)`: one branch of the claim (claim-runs.sql.ts) as a
 * function whose plans are made with sorting off, so each branch walks its due-ordered partial index
 * (migration 15) and stops after `limit` rows. Planned freely, the claim sorted every due run on each
 * call whenever the statistics underestimated the backlog (a table that grew since it was analyzed, a
 * burst of starts): the planner saw a few rows where there were thousands, and a claim cost grew with
 * the backlog (2,500 due runs: 2 to 7 ms a claim instead of a tenth of one). A function is the only
 * place PostgreSQL takes a planner setting for one statement. PL/pgSQL keeps the plans per session, and
 * the generic plan is forced: the plan does not depend on the values, so planning once is enough.
 */
export class KagziDueRuns1764100000017 implements MigrationInterface {
  name = 'KagziDueRuns1764100000017';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`
      create or replace function "${s}".due_runs(p_names text[], p_versions int[], p_new boolean, p_limit int, p_exclude uuid[] default '{}')
      returns table (id uuid, due_at timestamptz) language plpgsql volatile
      set enable_sort = off
      set plan_cache_mode = force_generic_plan
      as $fn$
      begin
        if p_limit is null or p_limit <= 0 then
          return;
        elsif p_new then${branch(s, 'r.lease_epoch = 0')}
        else${branch(s, 'r.lease_epoch > 0')}
        end if;
      end
      $fn$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = kagziSchemaOf(queryRunner);
    await queryRunner.query(`drop function if exists "${s}".due_runs(text[], int[], boolean, int, uuid[])`);
  }
}
