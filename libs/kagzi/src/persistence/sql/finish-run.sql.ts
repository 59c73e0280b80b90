import { SerializedStepError } from '../../errors/step.error';
import { statement } from '../statement';
import { notifyFinished } from './notify-finished.sql';
import { signalParents } from './signal-parent.sql';

/**
 * Complete or fail a run, fenced by the lease, and tell waiting clients in the same statement
 * (the notification carries the outcome when it fits, so a waiting client needs no query to read it),
 * and send a parent run its child's end (see signal-parent.sql.ts).
 */
export const finishRun = statement(
  'finishRun',
  (s) => `
with finished as (
  update "${s}".workflow_runs
  set status = $4::text, output = $5::json, error = $6::jsonb, due_at = null, lease_owner = null,
      completed_at = now(), updated_at = now()
  where id = $1::uuid and lease_owner = $2::text and lease_epoch = $3::int and status = 'RUNNING'
  returning id, status, output, error, parent_run_id, continued_as
), ${signalParents(s, 'finished')}
select ${notifyFinished(s)} is null as notified, (select n from parent_notify) as parents_woken
from finished`,
  (a: { runId: string; owner: string; epoch: number; status: 'COMPLETED' | 'FAILED' | 'CANCELLED'; output: string | null; error: SerializedStepError | null }) => [
    a.runId, a.owner, a.epoch, a.status, a.output, a.error === null ? null : JSON.stringify(a.error),
  ],
);
