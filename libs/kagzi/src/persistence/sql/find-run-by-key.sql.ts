import { statement } from '../statement';

/** The run started with an idempotency key, if any. */
export const findRunByKey = statement(
  'findRunByKey',
  (s) => `
select id from "${s}".workflow_runs where workflow_name = $1::text and idempotency_key = $2::text`,
  (a: { name: string; idempotencyKey: string }) => [a.name, a.idempotencyKey],
);
