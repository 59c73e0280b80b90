import { statement } from '../statement';

/**
 * The schedules that tick: per workflow, the row of its default version. Rows of other versions stay,
 * dormant, until their version is the default again.
 */
export const listSchedules = statement(
  'listSchedules',
  (s) => `
select workflow_name, version, cron, timezone, next_run_at, last_run_at, last_run_id, skipped
from "${s}".schedules
where version = "${s}".default_version(workflow_name)
order by workflow_name`,
  () => [],
);
