/** $1 workflow name, $2 idempotency key */
export const findRunByKeySql = (s: string): string => `
select id from "${s}".workflow_runs where workflow_name = $1::text and idempotency_key = $2::text`;
