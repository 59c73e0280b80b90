import { statement } from '../statement';

/**
 * Register a starting worker and record STARTED, in one statement. A live row with the same name
 * whose heartbeat is stale (its process died) is marked LOST first; a live one that still beats makes
 * the insert fail with a unique violation: the name is taken.
 */
export const registerWorker = statement(
  'registerWorker',
  (s) => `
with stale as (
  update "${s}".workers set status = 'LOST', stopped_at = now()
  where name = $2::text and status in ('RUNNING','DRAINING')
    and not "${s}".worker_is_live(last_heartbeat_at, heartbeat_interval_ms)
  returning id, name, last_heartbeat_at
), stale_events as (
  insert into "${s}".worker_events (worker_id, worker_name, event_type, data)
  select id, name, 'LOST', json_build_object('lastHeartbeatAt', last_heartbeat_at, 'detectedBy', $2::text) from stale
), started as (
  insert into "${s}".worker_events (worker_id, worker_name, event_type, data)
  values ($1::uuid, $2::text, 'STARTED', json_build_object('hostname', $3::text, 'pid', $4::int, 'concurrency', $5::int, 'workflows', $7::text[]))
)
-- Reading "stale" makes it run before the insert (an unreferenced CTE would run after it).
insert into "${s}".workers (id, name, hostname, pid, status, concurrency, heartbeat_interval_ms, workflows, library_version)
select $1::uuid, $2::text, $3::text, $4::int, 'RUNNING', $5::int, $6::int, $7::text[], $8::text
from (select count(*) from stale) as stale_first`,
  (a: {
    id: string; name: string; hostname: string; pid: number; concurrency: number; heartbeatIntervalMs: number; workflows: string[]; libraryVersion: string;
  }) => [a.id, a.name, a.hostname, a.pid, a.concurrency, a.heartbeatIntervalMs, a.workflows, a.libraryVersion],
);
