/** What `handle.result()` and `status()` need. $1 run id */
export const getRunOutcomeSql = (s: string): string => `
select status, output, error from "${s}".workflow_runs where id = $1::uuid`;
