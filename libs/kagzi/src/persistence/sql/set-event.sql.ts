import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';

/**
 * `ctx.setEvent`, fenced by the lease: record the set as the run's step (kind EVENT) and, only if that
 * record is new, write the value (a later set of the key overwrites it) and tell readers, in one
 * statement. A write retried after a lost reply, or a replay, finds the record and writes nothing.
 * FOR SHARE on the run row, like a step commit: a cancel or a new claim waits for it, and it for them.
 */
export const setEvent = statement(
  'setEvent',
  (s) => `
with fenced as (
  select r.id from "${s}".workflow_runs r
  where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
  for share of r
), recorded as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, completed_at, parallel_group_id, parent_step_id)
  select id, $4::text, $5::text, 'EVENT', 'COMPLETED', now(), $7::text, $8::text from fenced
  on conflict (workflow_run_id, step_key) do nothing
  returning workflow_run_id
), written as (
  insert into "${s}".run_events (workflow_run_id, key, value, set_at)
  select workflow_run_id, $5::text, $6::json, now() from recorded
  on conflict (workflow_run_id, key) do update set value = excluded.value, set_at = excluded.set_at
  returning workflow_run_id
)
select exists (select 1 from fenced) as held, exists (select 1 from written) as written,
       (select pg_notify('${notificationChannel(s, 'event')}', json_build_object('id', $1::uuid, 'key', $5::text)::text) from written) is null as notified`,
  (a: { runId: string; owner: string; epoch: number; stepKey: string; key: string; value: string; group?: string; branch?: string }) => [
    a.runId, a.owner, a.epoch, a.stepKey, a.key, a.value, a.group ?? null, a.branch ?? null,
  ],
);
