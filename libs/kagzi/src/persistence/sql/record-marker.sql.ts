/**
 * Record a sleep's wake-up time or a group's decision (a race's winner) without parking the run,
 * fenced by the lease like a step commit. The first record wins; a replay reads it and never decides again.
 * $1 run id, $2 owner, $3 epoch, $4 key, $5 name, $6 kind (SLEEP | GROUP), $7 output json, $8 group key, $9 branch key
 */
export const recordMarkerSql = (s: string): string => `
insert into "${s}".step_runs
  (workflow_run_id, step_key, step_name, kind, status, output, completed_at, parallel_group_id, parent_step_id)
select r.id, $4::text, $5::text, $6::text, 'COMPLETED', $7::json, now(), $8::text, $9::text
from "${s}".workflow_runs r
where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
for share of r
on conflict (workflow_run_id, step_key) do nothing
returning id`;
