import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';

/**
 * Hand runs back on shutdown: due now, lease cleared, so another worker resumes them at once instead
 * of waiting for the lease to expire; a RUN_HANDED_BACK event each, and a wake-up for idle workers.
 */
export const releaseRuns = statement(
  'releaseRuns',
  (s) => `
with released as (
  update "${s}".workflow_runs r
  set status = 'PENDING', due_at = now(), lease_owner = null, updated_at = now()
  from unnest($2::uuid[], $3::int[]) as held(id, epoch)
  where r.id = held.id and r.lease_epoch = held.epoch and r.lease_owner = $1::text and r.status = 'RUNNING'
  returning r.id, r.workflow_name
), events as (
  insert into "${s}".worker_events (worker_id, worker_name, event_type, data)
  select $4::uuid, $1::text, 'RUN_HANDED_BACK', json_build_object('runId', id, 'workflow', workflow_name) from released
)
select id, pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) is null as notified from released`,
  (a: { owner: string; runIds: string[]; epochs: number[]; workerId: string }) => [a.owner, a.runIds, a.epochs, a.workerId],
);
