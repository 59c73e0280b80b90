import { statement } from '../statement';

/** The finished runs among those some caller awaits: one query per poll for every waiter in the process. */
export const getRunOutcomes = statement(
  'getRunOutcomes',
  (s) => `
select id, status, output, error, continued_as from "${s}".workflow_runs
where id = any($1::uuid[]) and status in ('COMPLETED','FAILED','CANCELLED')`,
  (a: { runIds: string[] }) => [a.runIds],
);
