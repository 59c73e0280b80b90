import { RunStatus } from '../../interfaces/run.interface';
import { statement } from '../statement';

/**
 * Newest runs first, keyset-paged on (created_at, id) so a page costs the same at any depth.
 * cursor_at is the exact timestamp as text: a JS Date would drop the microseconds and skip rows.
 */
export const listRuns = statement(
  'listRuns',
  (s) => `
select id, workflow_name, workflow_version, status, idempotency_key, created_at, updated_at, completed_at,
       created_at::text as cursor_at
from "${s}".workflow_runs
where ($1::text is null or workflow_name = $1::text)
  and ($2::int is null or workflow_version = $2::int)
  and ($3::text[] is null or status = any($3::text[]))
  and ($4::timestamptz is null or created_at > $4::timestamptz)
  and ($5::timestamptz is null or created_at < $5::timestamptz)
  and ($6::timestamptz is null or (created_at, id) < ($6::timestamptz, $7::uuid))
order by created_at desc, id desc
limit $8::int`,
  (a: {
    name?: string; version?: number; statuses?: RunStatus[]; createdAfter?: Date; createdBefore?: Date;
    cursor?: { createdAt: string; id: string }; limit: number;
  }) => [
    a.name ?? null, a.version ?? null, a.statuses ?? null, a.createdAfter ?? null, a.createdBefore ?? null,
    a.cursor?.createdAt ?? null, a.cursor?.id ?? null, a.limit,
  ],
);
