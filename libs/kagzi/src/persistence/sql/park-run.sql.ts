import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';
import { dueUnlessCancelPending } from './cancel-pending.sql';

/**
 * Park the run until `dueAt` (durable sleep, retry back-off): status SLEEPING, due then, lease released,
 * so any worker may resume it. With a sleep key, the sleep is recorded in the same statement.
 * A cancel requested but not yet delivered makes it due at once instead (see cancel-pending.sql.ts).
 */
export const parkRun = statement(
  'parkRun',
  (s) => `
with parked as (
  update "${s}".workflow_runs
  set status = 'SLEEPING', due_at = ${dueUnlessCancelPending('$4::timestamptz')}, lease_owner = null, updated_at = now()
  where id = $1::uuid and lease_owner = $2::text and lease_epoch = $3::int and status = 'RUNNING'
  returning id, workflow_name, due_at <= now() as due_now
), recorded as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, output, completed_at, parallel_group_id, parent_step_id)
  select id, $5::text, 'sleep', 'SLEEP', 'COMPLETED', $6::json, now(), $7::text, $8::text from parked where $5::text is not null
  on conflict (workflow_run_id, step_key) do nothing
)
select id, (select pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) from parked where due_now) is null as notified from parked`,
  (a: { runId: string; owner: string; epoch: number; dueAt: Date; sleep?: { key: string; output: string; group?: string; branch?: string } }) => [
    a.runId, a.owner, a.epoch, a.dueAt, a.sleep?.key ?? null, a.sleep?.output ?? null, a.sleep?.group ?? null, a.sleep?.branch ?? null,
  ],
);
