import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';

/**
 * Enqueue a run, pinned to a version, and wake idle workers (NOTIFY is delivered at commit), in one
 * statement. The version is the one given, else the name's default version (see the default_version function
 * in the migrations); it must be registered and not deprecated, or nothing is inserted and the flags say why.
 * A repeated idempotency key inserts nothing either (id is null); the caller then reads the first run.
 * So does a run id that exists: a client retrying after an outage that lost the first reply finds its run
 * by id instead of failing on the primary key (no conflict target, so both unique constraints count).
 * `trace_context`: the starter's W3C trace context (see tracing/start.trace.ts), null without an SDK.
 * Delayed runs notify too: an idle worker then re-reads the next due time and sets its timer to it.
 */
export const insertRun = statement(
  'insertRun',
  (s) => `
with ${chooseVersion(s, '$2::text', '$3::int')}, inserted as (
  insert into "${s}".workflow_runs (id, workflow_name, workflow_version, status, input, idempotency_key, due_at, parent_run_id, on_parent_close, trace_context)
  select $1::uuid, $2::text, version, 'PENDING', $4::json, $5::text, now() + $6::double precision * interval '1 millisecond',
         $7::uuid, coalesce($8::text, 'cancel'), $9::jsonb
  from usable
  on conflict do nothing
  returning id, workflow_name
)
select ${versionFlags},
       (select id from inserted) as id,
       (select pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) from inserted) is null as notified`,
  (a: { id: string; name: string; version?: number; input: string; idempotencyKey?: string; delayMs: number; parent?: { runId: string; onParentClose: 'cancel' | 'abandon' }; traceContext?: Record<string, string> }) => [
    a.id, a.name, a.version ?? null, a.input, a.idempotencyKey ?? null, a.delayMs, a.parent?.runId ?? null, a.parent?.onParentClose ?? null,
    a.traceContext ? JSON.stringify(a.traceContext) : null,
  ],
);

/**
 * CTEs `versions`, `chosen` and `usable`: the version a new run of `name` gets — `version` when given,
 * else the name's default — usable when registered and not deprecated.
 */
export const chooseVersion = (s: string, name: string, version: string): string => `versions as (
  select version, is_default, deprecated_at from "${s}".workflow_versions where workflow_name = ${name}
), chosen as (
  select coalesce(${version}, "${s}".default_version(${name})) as version
), usable as (
  select c.version from chosen c join versions v on v.version = c.version where v.deprecated_at is null
)`;

/** The columns of InsertRunResult that say why nothing was inserted (after {@link chooseVersion}). */
export const versionFlags = `(select count(*) from versions)::int as known_versions,
       (select version from chosen) as version,
       exists (select 1 from versions v join chosen c on v.version = c.version) as version_known,
       exists (select 1 from usable) as usable`;
