import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';

/**
 * Store a signal for a live run and, if the run is parked on a signal wait (WAITING), make it due now
 * and wake idle workers, in one statement. The run row is locked before the insert, so signals of one
 * run get ids in the order they commit, and a run parking at the same moment is either already WAITING
 * (and is made due here) or parks after this commits and finds `last_signal_id` past the newest signal
 * it could see (see park-for-signal.sql.ts). The sender's delivery id makes a send retried after a lost
 * reply store the signal once (`delivered` then says it was).
 */
export const sendSignal = statement(
  'sendSignal',
  (s) => `
with live as (
  select id from "${s}".workflow_runs
  where id = $1::uuid and status in ('PENDING','RUNNING','SLEEPING','WAITING')
  for update
), sent as (
  insert into "${s}".signals (workflow_run_id, name, payload, delivery_id) select id, $2::text, $3::json, $4::uuid from live
  on conflict (delivery_id) do nothing
  returning id, workflow_run_id
), bumped as (
  update "${s}".workflow_runs r
  set last_signal_id = greatest(r.last_signal_id, sent.id),
      due_at = case when r.status = 'WAITING' then now() else r.due_at end, updated_at = now()
  from sent where r.id = sent.workflow_run_id
  returning r.status, r.workflow_name
)
select exists (select 1 from live) as active,
       exists (select 1 from "${s}".workflow_runs where id = $1::uuid) as known,
       exists (select 1 from sent) or exists (select 1 from "${s}".signals where delivery_id = $4::uuid) as delivered,
       (select pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) from bumped where status = 'WAITING') is null as notified`,
  (a: { runId: string; name: string; payload: string; deliveryId: string }) => [a.runId, a.name, a.payload, a.deliveryId],
);
