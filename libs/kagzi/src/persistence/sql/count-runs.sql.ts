import { RunStatus } from '../../interfaces/run.interface';
import { statement } from '../statement';

/** Runs matching a filter (each part optional), for countRuns. */
export const countRuns = statement(
  'countRuns',
  (s) => `
select count(*)::int as count from "${s}".workflow_runs
where ($1::text is null or workflow_name = $1::text)
  and ($2::int is null or workflow_version = $2::int)
  and ($3::text[] is null or status = any($3::text[]))`,
  (a: { name?: string; version?: number; statuses?: RunStatus[] }) => [a.name ?? null, a.version ?? null, a.statuses ?? null],
);
