/** The finished runs among those some caller awaits: one query per poll for every waiter in the process. $1 run ids */
export const getRunOutcomesSql = (s: string): string => `
select id, status, output, error from "${s}".workflow_runs
where id = any($1::uuid[]) and status in ('COMPLETED','FAILED','CANCELLED')`;
