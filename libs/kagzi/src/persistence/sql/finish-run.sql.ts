import { notifyFinishedSql } from './notify-finished.sql';

/**
 * Complete or fail a run, fenced by the lease, and tell waiting clients in the same statement
 * (the notification carries the outcome when it fits, so a waiting client needs no query to read it).
 * $1 run id, $2 owner, $3 epoch, $4 status, $5 output json, $6 error jsonb
 */
export const finishRunSql = (s: string): string => `
with finished as (
  update "${s}".workflow_runs
  set status = $4::text, output = $5::json, error = $6::jsonb, due_at = null, lease_owner = null,
      completed_at = now(), updated_at = now()
  where id = $1::uuid and lease_owner = $2::text and lease_epoch = $3::int and status = 'RUNNING'
  returning id, status, output, error
)
select ${notifyFinishedSql(s)} is null as notified
from finished`;
