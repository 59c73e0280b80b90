import { RunStatus } from '../../interfaces/run.interface';
import { statement } from '../statement';

/**
 * For the dashboard's search box: the run with this id, or the runs whose idempotency key is exactly
 * this text (in any workflow), newest first. The key is matched as (workflow_name, idempotency_key)
 * for each known workflow name, so the unique index on that pair serves it instead of a table scan;
 * the id is a primary-key lookup of its own (an OR of the two would scan the table).
 */
export const searchRuns = statement(
  'searchRuns',
  (s) => `
select id, workflow_name, workflow_version, status, idempotency_key, created_at, updated_at, completed_at
from (
  select id, workflow_name, workflow_version, status, idempotency_key, created_at, updated_at, completed_at
  from "${s}".workflow_runs where id = $1::uuid
  union
  select r.id, r.workflow_name, r.workflow_version, r.status, r.idempotency_key, r.created_at, r.updated_at, r.completed_at
  from (select distinct workflow_name from "${s}".workflow_versions) v
  join "${s}".workflow_runs r on r.workflow_name = v.workflow_name and r.idempotency_key = $2::text
) found
where ($3::text is null or workflow_name = $3::text)
  and ($4::text[] is null or status = any($4::text[]))
order by created_at desc, id desc
limit $5::int`,
  (a: { runId: string | null; key: string; name?: string; statuses?: RunStatus[]; limit: number }) => [a.runId, a.key, a.name ?? null, a.statuses ?? null, a.limit],
);
