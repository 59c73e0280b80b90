import { statement } from '../statement';

/**
 * Serialises changes to one workflow's versions (default, deprecation) until the transaction ends:
 * without it, two concurrent switches can deadlock, or a deprecation can race the default it checks.
 */
export const lockWorkflowName = statement(
  'lockWorkflowName',
  (s) => `
select pg_advisory_xact_lock(hashtext('${s}.workflow_versions:' || $1::text))`,
  (a: { name: string }) => [a.name],
);
