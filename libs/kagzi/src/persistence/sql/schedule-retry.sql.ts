/**
 * A failed attempt that will be retried: record it and remember the count and the next attempt's
 * time on the step, in one statement, so a crash loses neither. With $11 the run is parked too
 * (SLEEPING until $13, lease released, worker slot freed); without it, other branches of the run
 * are still busy and the worker waits for the attempt in process.
 * $1 run id, $2 owner, $3 epoch, $4 key, $5 name, $6 next attempt at, $7 args hash, $8 error jsonb,
 * $9 attempt number, $10 attempt started at, $11 park, $12 group key, $13 run due at, $14 branch key
 */
export const scheduleRetrySql = (s: string): string => `
with fenced as (
  select r.id from "${s}".workflow_runs r
  where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
  for update of r
), parked as (
  update "${s}".workflow_runs
  set status = 'SLEEPING', due_at = $13::timestamptz, lease_owner = null, updated_at = now()
  where id = (select id from fenced) and $11::boolean
), step as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, args_hash, error, attempts, next_attempt_at, started_at,
     parallel_group_id, parent_step_id)
  select id, $4::text, $5::text, 'STEP', 'RUNNING', $7::text, $8::jsonb, $9::int, $6::timestamptz, $10::timestamptz,
         $12::text, $14::text
  from fenced
  on conflict (workflow_run_id, step_key) do update
    set error = excluded.error, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at
    where step_runs.status = 'RUNNING'
), attempt as (
  insert into "${s}".step_attempts (workflow_run_id, step_key, attempt, started_at, finished_at, error)
  select id, $4::text, $9::int, $10::timestamptz, now(), $8::jsonb from fenced
  on conflict do nothing
)
select id from fenced`;
