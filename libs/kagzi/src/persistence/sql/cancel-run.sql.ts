import { SerializedStepError } from '../../errors/step.error';
import { statement } from '../statement';
import { notifyFinished } from './notify-finished.sql';
import { signalParents } from './signal-parent.sql';

/**
 * Cancel a live run, and with it (recursively) its live children started with onParentClose 'cancel',
 * in one statement; tell their workers and waiting clients, and send the parent of the cancelled run
 * its child's end (see signal-parent.sql.ts). One row per cancelled run; `root` marks the one asked for.
 */
export const cancelRun = statement(
  'cancelRun',
  (s) => `
with recursive tree as (
  select id from "${s}".workflow_runs where id = $1::uuid and status in ('PENDING','RUNNING','SLEEPING','WAITING')
  union
  select c.id from "${s}".workflow_runs c join tree t on c.parent_run_id = t.id
  where c.on_parent_close = 'cancel' and c.status in ('PENDING','RUNNING','SLEEPING','WAITING')
), cancelled as (
  update "${s}".workflow_runs
  set status = 'CANCELLED', error = $2::jsonb, due_at = null, lease_owner = null, completed_at = now(), updated_at = now()
  where id in (select id from tree) and status in ('PENDING','RUNNING','SLEEPING','WAITING')
  returning id, status, null::json as output, error, parent_run_id
), ${signalParents(s, 'cancelled', 'tree')}
select id = $1::uuid as root, ${notifyFinished(s)} is null as notified, (select n from parent_notify) as parents_woken
from cancelled`,
  (a: { runId: string; error: SerializedStepError }) => [a.runId, JSON.stringify(a.error)],
);
