import { SerializedStepError } from '../../errors/step.error';
import { statement } from '../statement';
import { notifyFinished } from './notify-finished.sql';

/** Cancel a live run and tell its worker and waiting clients. */
export const cancelRun = statement(
  'cancelRun',
  (s) => `
with cancelled as (
  update "${s}".workflow_runs
  set status = 'CANCELLED', error = $2::jsonb, due_at = null, lease_owner = null, completed_at = now(), updated_at = now()
  where id = $1::uuid and status in ('PENDING','RUNNING','SLEEPING','WAITING')
  returning id, status, null::json as output, error
)
select ${notifyFinished(s)} is null as notified
from cancelled`,
  (a: { runId: string; error: SerializedStepError }) => [a.runId, JSON.stringify(a.error)],
);
