/** Every known worker, newest first; a live row whose heartbeat is stale is reported LOST. */
export const listWorkersSql = (s: string): string => `
select name, hostname, pid, started_at, last_heartbeat_at, concurrency, active_runs, workflows,
       case when status in ('RUNNING','DRAINING')
                 and last_heartbeat_at < now() - 3 * heartbeat_interval_ms * interval '1 millisecond'
            then 'LOST' else status end as status
from "${s}".workers
order by started_at desc`;
