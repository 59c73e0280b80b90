import { statement } from '../statement';

/** When the next run this worker serves becomes due, so an idle worker sleeps exactly that long. */
export const nextDue = statement(
  'nextDue',
  (s) => `
select extract(epoch from (min(due_at) - now())) * 1000 as due_in_ms
from "${s}".workflow_runs
where due_at is not null
  and (workflow_name, workflow_version) in (select * from unnest($1::text[], $2::int[]))`,
  (a: { names: string[]; versions: number[] }) => [a.names, a.versions],
);
