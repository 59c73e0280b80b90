/**
 * Record a finished step, fenced by the lease. FOR SHARE on the run row makes a concurrent claim
 * (an UPDATE) wait for this commit, so the next owner always loads it; a stale owner or epoch
 * selects no row and inserts nothing. A second commit of the same key is ignored: the first one wins.
 * $1 run id, $2 owner, $3 epoch, $4 key, $5 name, $6 kind, $7 status, $8 args hash, $9 output json,
 * $10 error jsonb, $11 started at
 */
export const commitStepSql = (s: string): string => `
insert into "${s}".step_runs
  (workflow_run_id, step_key, step_name, kind, status, args_hash, output, error, started_at, completed_at)
select r.id, $4::text, $5::text, $6::text, $7::text, $8::text, $9::json, $10::jsonb, $11::timestamptz, now()
from "${s}".workflow_runs r
where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
for share of r
on conflict (workflow_run_id, step_key) do nothing
returning id`;
