import { statement } from '../statement';

/** Every known worker, newest first; a live row whose heartbeat is stale is reported LOST. */
export const listWorkers = statement(
  'listWorkers',
  (s) => `
select name, hostname, pid, started_at, last_heartbeat_at, concurrency, active_runs, workflows,
       case when status in ('RUNNING','DRAINING')
                 and not "${s}".worker_is_live(last_heartbeat_at, heartbeat_interval_ms)
            then 'LOST' else status end as status
from "${s}".workers
order by started_at desc`,
  () => [],
);
