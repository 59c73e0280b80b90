import { statement } from '../statement';

/**
 * For the `kagzi.runs.backlog` gauge: runs due now that no worker holds, per (workflow, version), with
 * 0 for every known version that has none (so a drained backlog reads 0 rather than vanishing). The runs
 * come from the partial due index; one statement per collection, whatever the number of runs.
 */
export const metricsBacklog = statement(
  'metricsBacklog',
  (s) => `
select workflow_name, workflow_version, count(due_at)::int as runs
from (
  select workflow_name, version as workflow_version, null::timestamptz as due_at from "${s}".workflow_versions
  union all
  select workflow_name, workflow_version, due_at from "${s}".workflow_runs where due_at <= now()
) pairs
group by workflow_name, workflow_version`,
  () => [],
);
