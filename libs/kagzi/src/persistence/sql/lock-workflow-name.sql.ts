/**
 * Serialises changes to one workflow's versions (default, deprecation) until the transaction ends:
 * without it, two concurrent switches can deadlock, or a deprecation can race the default it checks. $1 name
 */
export const lockWorkflowNameSql = (s: string): string => `
select pg_advisory_xact_lock(hashtext('${s}.workflow_versions:' || $1::text))`;
