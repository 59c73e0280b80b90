import { SerializedStepError } from '../../errors/step.error';
import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';
import { dueUnlessCancelPending } from './cancel-pending.sql';

/**
 * A failed attempt that will be retried: record it and remember the count and the next attempt's
 * time on the step, in one statement, so a crash loses neither. With `parkUntil` the run is parked
 * too (SLEEPING until then, lease released, worker slot freed); without it, other branches of the run
 * are still busy and the worker waits for the attempt in process. A cancel requested but not yet
 * delivered makes a parked run due at once (see cancel-pending.sql.ts).
 */
export const scheduleRetry = statement(
  'scheduleRetry',
  (s) => `
with fenced as (
  select r.id, r.run_try from "${s}".workflow_runs r
  where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
  for update of r
), parked as (
  update "${s}".workflow_runs
  set status = 'SLEEPING', due_at = ${dueUnlessCancelPending('$13::timestamptz')}, lease_owner = null, updated_at = now()
  where id = (select id from fenced) and $13::timestamptz is not null
  returning workflow_name, due_at <= now() as due_now
), step as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, args_hash, error, attempts, next_attempt_at, started_at,
     parallel_group_id, parent_step_id)
  select id, $4::text, $5::text, 'STEP', 'RUNNING', $6::text, $7::jsonb, $8::int, $10::timestamptz, $9::timestamptz,
         $11::text, $12::text
  from fenced
  on conflict (workflow_run_id, step_key) do update
    set error = excluded.error, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at
    where step_runs.status = 'RUNNING'
), attempt as (
  insert into "${s}".step_attempts (workflow_run_id, step_key, run_try, attempt, started_at, finished_at, error)
  select id, $4::text, run_try, $8::int, $9::timestamptz, now(), $7::jsonb from fenced
  on conflict do nothing
)
select id, (select pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) from parked where due_now) is null as notified from fenced`,
  (a: {
    runId: string; owner: string; epoch: number; key: string; name: string; argsHash: string; error: SerializedStepError;
    attempt: number; startedAt: Date; nextAttemptAt: Date; group?: string; branch?: string; parkUntil?: Date;
  }) => [
    a.runId, a.owner, a.epoch, a.key, a.name, a.argsHash, JSON.stringify(a.error),
    a.attempt, a.startedAt, a.nextAttemptAt, a.group ?? null, a.branch ?? null, a.parkUntil ?? null,
  ],
);
