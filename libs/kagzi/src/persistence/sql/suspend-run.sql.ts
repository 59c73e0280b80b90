/**
 * Durable sleep: record the wake-up time as a SLEEP step and park the run until then, releasing
 * the lease so any worker may resume it. $1 run id, $2 owner, $3 epoch, $4 key, $5 wake-up output json,
 * $6 wake at, $7 whether to insert the step row (false when replaying a sleep that woke early)
 */
export const suspendRunSql = (s: string): string => `
with parked as (
  update "${s}".workflow_runs
  set status = 'SLEEPING', due_at = $6::timestamptz, lease_owner = null, updated_at = now()
  where id = $1::uuid and lease_owner = $2::text and lease_epoch = $3::int and status = 'RUNNING'
  returning id
), recorded as (
  insert into "${s}".step_runs (workflow_run_id, step_key, step_name, kind, status, output, completed_at)
  select id, $4::text, 'sleep', 'SLEEP', 'COMPLETED', $5::json, now() from parked where $7::boolean
  on conflict (workflow_run_id, step_key) do nothing
)
select id from parked`;
