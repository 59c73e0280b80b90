import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';

/** One run of a batch as the statement binds it: input and trace context already JSON text. */
export interface BatchRun {
  id: string;
  name: string;
  version?: number;
  input: string;
  idempotencyKey?: string;
  delayMs: number;
  traceContext?: string;
}

/**
 * Enqueues a batch of runs (`client.startMany`) in one statement. The runs travel as one JSON array read
 * back as rows with json_to_recordset: one parameter and one plan for any batch size (a VALUES list would
 * be a new text, and plan, per size), and inputs, already JSON, are embedded as they are. Its fixed row
 * estimate (100) also keeps the planner from JIT-compiling the statement: unnest() of arrays tells it the
 * real count, and at 10,000 rows the per-row lookups below cost past jit_above_cost, which added ~80 ms
 * (more than the insert itself) per 10,000 runs. The version of each distinct (name, version asked for)
 * pair is chosen once (materialized, or default_version() runs per row), as insert-run.sql.ts chooses it.
 *
 * All or nothing: if an item's version is unknown or not usable and no run holds its key (or its id,
 * after a retry whose first reply was lost), nothing is inserted and `blocked_item` names the first such
 * item (1-based position in the array) with the flags that say why.
 * `on conflict do nothing` (no target: the id and the key both count) skips a key taken before; the
 * caller dedupes keys within the batch, so each (name, key) appears once. `run_ids` follows the array:
 * the run inserted, else the run that already held the key or the id (read from the statement's
 * snapshot, so a key committed by another transaction while this one waited is null: look it up again).
 * `versions` is set only for this batch's own runs (the started counter counts those).
 * One NOTIFY for the whole batch (workers ignore the payload and re-read what is due), not one per run.
 */
export const insertRuns = statement(
  'insertRuns',
  (s) => `
with item as (
  select * from rows from (json_to_recordset($1::json) as (
    id uuid, name text, requested int, input json, idempotency_key text, delay_ms double precision, trace_context jsonb
  )) with ordinality as i(id, name, requested, input, idempotency_key, delay_ms, trace_context, ord)
), pair as materialized (
  select name, requested, coalesce(requested, 0) as requested_key, coalesce(requested, "${s}".default_version(name)) as version
  from (select distinct name, requested from item) p
), checked as materialized (
  select pair.*,
         (select count(*) from "${s}".workflow_versions v where v.workflow_name = pair.name)::int as known_versions,
         exists (select 1 from "${s}".workflow_versions v where v.workflow_name = pair.name and v.version = pair.version) as version_known,
         exists (select 1 from "${s}".workflow_versions v where v.workflow_name = pair.name and v.version = pair.version and v.deprecated_at is null) as usable
  from pair
), planned as (
  select item.*, c.version, c.known_versions, c.version_known, c.usable
  from item join checked c on c.name = item.name and c.requested_key = coalesce(item.requested, 0)
), blocked as (
  select p.ord, p.known_versions, p.version, p.version_known
  from planned p
  where not p.usable
    and not exists (select 1 from "${s}".workflow_runs r where r.workflow_name = p.name and r.idempotency_key = p.idempotency_key)
    and not exists (select 1 from "${s}".workflow_runs r where r.id = p.id)
  order by p.ord
  limit 1
), inserted as (
  insert into "${s}".workflow_runs (id, workflow_name, workflow_version, status, input, idempotency_key, due_at, trace_context)
  select p.id, p.name, p.version, 'PENDING', p.input, p.idempotency_key, now() + p.delay_ms * interval '1 millisecond', p.trace_context
  from planned p
  where p.usable and not exists (select 1 from blocked)
  on conflict do nothing
  returning id, workflow_name, workflow_version
)
select (select ord from blocked)::int as blocked_item,
       (select known_versions from blocked) as known_versions,
       (select version from blocked) as version,
       (select version_known from blocked) as version_known,
       array_agg(coalesce(
         ins.id,
         (select r.id from "${s}".workflow_runs r where r.workflow_name = item.name and r.idempotency_key = item.idempotency_key),
         (select r.id from "${s}".workflow_runs r where r.id = item.id)
       ) order by item.ord) as run_ids,
       array_agg(coalesce(ins.workflow_version, (select r.workflow_version from "${s}".workflow_runs r where r.id = item.id)) order by item.ord) as versions,
       -- one wakeup per workflow inserted: a worker wakes only for the workflows it serves
       (select count(pg_notify('${notificationChannel(s, 'wakeup')}', n.workflow_name)) from (select distinct workflow_name from inserted) n) > 0 as notified
from item left join inserted ins on ins.id = item.id`,
  (runs: readonly BatchRun[]) => {
    // Inputs and trace contexts are JSON text already: embedded as they are, not quoted again.
    const parts = new Array<string>(runs.length);
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i];
      let part = `{"id":"${r.id}","name":${JSON.stringify(r.name)},"input":${r.input},"delay_ms":${r.delayMs}`;
      if (r.version !== undefined) part += `,"requested":${r.version}`;
      if (r.idempotencyKey !== undefined) part += `,"idempotency_key":${JSON.stringify(r.idempotencyKey)}`;
      if (r.traceContext !== undefined) part += `,"trace_context":${r.traceContext}`;
      parts[i] = `${part}}`;
    }
    return [`[${parts.join(',')}]`];
  },
);

/** The row insertRuns returns. */
export interface InsertRunsRow {
  /** 1-based position of the first item that stopped the batch (nothing inserted), else null. */
  blocked_item: number | null;
  known_versions: number | null;
  version: number | null;
  version_known: boolean | null;
  run_ids: Array<string | null>;
  versions: Array<number | null>;
  notified: boolean;
}
