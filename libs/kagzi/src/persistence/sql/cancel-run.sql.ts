import { notifyFinishedSql } from './notify-finished.sql';

/** Cancel a live run and tell its worker and waiting clients. $1 run id, $2 error jsonb */
export const cancelRunSql = (s: string): string => `
with cancelled as (
  update "${s}".workflow_runs
  set status = 'CANCELLED', error = $2::jsonb, due_at = null, lease_owner = null, completed_at = now(), updated_at = now()
  where id = $1::uuid and status in ('PENDING','RUNNING','SLEEPING')
  returning id, status, null::json as output, error
)
select ${notifyFinishedSql(s)} is null as notified
from cancelled`;
