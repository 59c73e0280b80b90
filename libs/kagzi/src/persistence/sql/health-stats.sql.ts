import { statement } from '../statement';

/**
 * For the health check: how many runs this worker serves are due now (backlog), and which
 * (workflow, version) pairs have runs in flight that no live worker serves (stranded).
 */
export const healthStats = statement(
  'healthStats',
  (s) => `
select
  (select count(*)::int from "${s}".workflow_runs
   where due_at <= now() and (workflow_name, workflow_version) in (select * from unnest($1::text[], $2::int[]))) as due_backlog,
  coalesce((
    select json_agg(pair order by pair) from (
      select distinct "${s}".workflow_pair(r.workflow_name, r.workflow_version) as pair
      from "${s}".workflow_runs r
      where r.due_at is not null
        and not exists (
          select 1 from "${s}".workers w
          where w.status = 'RUNNING'
            and "${s}".worker_is_live(w.last_heartbeat_at, w.heartbeat_interval_ms)
            and "${s}".workflow_pair(r.workflow_name, r.workflow_version) = any (w.workflows)
        )
    ) unserved
  ), '[]'::json) as unserved`,
  (a: { names: string[]; versions: number[] }) => [a.names, a.versions],
);
