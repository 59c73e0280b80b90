import { statement } from '../statement';

/**
 * Every registered version of a workflow (of every workflow when the name is null, for the dashboard)
 * with what an operator needs before a deploy step: is it the default, deprecated, served by a live
 * worker (`worker_is_live()`), and how many of its runs are still in flight, per status.
 */
export const listVersions = statement(
  'listVersions',
  (s) => `
select v.workflow_name, v.version, v.version = "${s}".default_version(v.workflow_name) as is_default, v.deprecated_at, v.registered_at, v.last_seen_at,
       exists (
         select 1 from "${s}".workers w
         where w.status = 'RUNNING'
           and "${s}".worker_is_live(w.last_heartbeat_at, w.heartbeat_interval_ms)
           and "${s}".workflow_pair(v.workflow_name, v.version) = any (w.workflows)
       ) as served,
       coalesce((
         select json_object_agg(status, n) from (
           select r.status, count(*)::int as n from "${s}".workflow_runs r
           where r.workflow_name = v.workflow_name and r.workflow_version = v.version and r.due_at is not null
           group by r.status
         ) counts
       ), '{}'::json) as runs
from "${s}".workflow_versions v
where $1::text is null or v.workflow_name = $1::text
order by v.workflow_name, v.version`,
  (a: { name: string | null }) => [a.name],
);
