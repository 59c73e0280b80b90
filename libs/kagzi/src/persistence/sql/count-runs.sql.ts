/** $1 name, $2 version, $3 statuses */
export const countRunsSql = (s: string): string => `
select count(*)::int as count from "${s}".workflow_runs
where ($1::text is null or workflow_name = $1::text)
  and ($2::int is null or workflow_version = $2::int)
  and ($3::text[] is null or status = any($3::text[]))`;
