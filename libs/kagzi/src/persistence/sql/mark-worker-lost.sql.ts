/** Mark one worker LOST (its process is known to be gone) and record the event. $1 worker id, $2 detected by */
export const markWorkerLostSql = (s: string): string => `
with lost as (
  update "${s}".workers set status = 'LOST', stopped_at = now()
  where id = $1::uuid and status in ('RUNNING','DRAINING')
  returning id, name, last_heartbeat_at
)
insert into "${s}".worker_events (worker_id, worker_name, event_type, data)
select id, name, 'LOST', json_build_object('lastHeartbeatAt', last_heartbeat_at, 'detectedBy', $2::text, 'reason', 'process gone') from lost`;
