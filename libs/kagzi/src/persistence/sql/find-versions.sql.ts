/** Registered versions of one workflow, newest first. $1 name */
export const findVersionsSql = (s: string): string => `
select version from "${s}".workflow_versions where workflow_name = $1::text order by version desc`;
