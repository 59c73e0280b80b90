/**
 * A failed attempt that will be retried: record it, remember the count and the next attempt's time
 * on the step, and park the run until then (lease released, worker slot freed), in one statement.
 * A crash during the back-off loses neither the count nor the wait.
 * $1 run id, $2 owner, $3 epoch, $4 key, $5 name, $6 next attempt at, $7 args hash, $8 error jsonb,
 * $9 attempt number, $10 attempt started at
 */
export const scheduleRetrySql = (s: string): string => `
with parked as (
  update "${s}".workflow_runs
  set status = 'SLEEPING', due_at = $6::timestamptz, lease_owner = null, updated_at = now()
  where id = $1::uuid and lease_owner = $2::text and lease_epoch = $3::int and status = 'RUNNING'
  returning id
), step as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, args_hash, error, attempts, next_attempt_at, started_at)
  select id, $4::text, $5::text, 'STEP', 'RUNNING', $7::text, $8::jsonb, $9::int, $6::timestamptz, $10::timestamptz
  from parked
  on conflict (workflow_run_id, step_key) do update
    set error = excluded.error, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at
    where step_runs.status = 'RUNNING'
), attempt as (
  insert into "${s}".step_attempts (workflow_run_id, step_key, attempt, started_at, finished_at, error)
  select id, $4::text, $9::int, $10::timestamptz, now(), $8::jsonb from parked
  on conflict do nothing
)
select id from parked`;
