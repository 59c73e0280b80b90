import { statement } from '../statement';

/** A worker's own state change (DRAINING, STOPPED) and its event. */
export const setWorkerStatus = statement(
  'setWorkerStatus',
  (s) => `
with updated as (
  update "${s}".workers
  set status = $3::text, last_heartbeat_at = now(),
      stopped_at = case when $3::text = 'STOPPED' then now() else null end,
      active_runs = case when $3::text = 'STOPPED' then 0 else active_runs end
  where id = $1::uuid
  returning id
)
insert into "${s}".worker_events (worker_id, worker_name, event_type, data)
select $1::uuid, $2::text, $3::text, $4::jsonb from updated`,
  (a: { workerId: string; name: string; status: 'DRAINING' | 'STOPPED'; data: Record<string, unknown> }) => [
    a.workerId, a.name, a.status, JSON.stringify(a.data),
  ],
);
