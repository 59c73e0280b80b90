/** One run with everything `getRun` shows. $1 run id */
export const getRunSql = (s: string): string => `
select id, workflow_name, workflow_version, status, input, output, error, idempotency_key,
       created_at, updated_at, completed_at
from "${s}".workflow_runs where id = $1::uuid`;
