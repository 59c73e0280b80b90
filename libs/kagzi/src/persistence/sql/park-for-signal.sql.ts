import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';
import { dueUnlessCancelPending } from './cancel-pending.sql';

/**
 * Park the run on a signal wait, fenced by the lease: WAITING, due at the wait's deadline (or the
 * earliest wake-up of its other strands) — or at once if a signal was stored after the newest one the
 * run could see when it last looked (`last_signal_id` is past it). The row's own
 * column is read after its lock, so a sender that commits first is never missed. With a wait key, the
 * pending wait and its deadline are recorded in the same statement, so a replay keeps the deadline.
 * A cancel requested but not yet delivered makes it due at once too (see cancel-pending.sql.ts).
 * A run parked due at once (a signal or a child's end came meanwhile) wakes the workers at commit: the
 * sender saw it still RUNNING and sent no NOTIFY, and the worker's own timer only knows the deadline.
 */
export const parkForSignal = statement(
  'parkForSignal',
  (s) => `
with parked as (
  update "${s}".workflow_runs
  set status = 'WAITING', due_at = case when last_signal_id > $5::bigint then now() else ${dueUnlessCancelPending('$4::timestamptz')} end,
      lease_owner = null, updated_at = now()
  where id = $1::uuid and lease_owner = $2::text and lease_epoch = $3::int and status = 'RUNNING'
  returning id, workflow_name, due_at <= now() as due_now
), pending as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, attempts, next_attempt_at, parallel_group_id, parent_step_id)
  select id, $6::text, $7::text, 'SIGNAL', 'RUNNING', 0, $8::timestamptz, $9::text, $10::text from parked where $6::text is not null
  on conflict (workflow_run_id, step_key) do nothing
)
select id, (select pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) from parked where due_now) is null as notified from parked`,
  (a: {
    runId: string; owner: string; epoch: number; dueAt: Date; newestSeen: number;
    wait?: { key: string; name: string; deadline: Date | null; group?: string; branch?: string };
  }) => [
    a.runId, a.owner, a.epoch, a.dueAt, a.newestSeen,
    a.wait?.key ?? null, a.wait?.name ?? null, a.wait?.deadline ?? null, a.wait?.group ?? null, a.wait?.branch ?? null,
  ],
);
