import { statement } from '../statement';

/** Mark one worker LOST (its process is known to be gone) and record the event. */
export const markWorkerLost = statement(
  'markWorkerLost',
  (s) => `
with lost as (
  update "${s}".workers set status = 'LOST', stopped_at = now()
  where id = $1::uuid and status in ('RUNNING','DRAINING')
  returning id, name, last_heartbeat_at
)
insert into "${s}".worker_events (worker_id, worker_name, event_type, data)
select id, name, 'LOST', json_build_object('lastHeartbeatAt', last_heartbeat_at, 'detectedBy', $2::text, 'reason', 'process gone') from lost`,
  (a: { workerId: string; detectedBy: string }) => [a.workerId, a.detectedBy],
);
