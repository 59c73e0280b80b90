import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';
import { chooseVersion, versionFlags } from './insert-run.sql';

/**
 * `ctx.startChild` in one statement, fenced by the parent's lease: insert the child run (pinned to its
 * version as insert-run.sql.ts does, its parent recorded) and record its id as the parent's CHILD step.
 * A child that exists under the idempotency key (a parent that crashed after an earlier insert) is the
 * one recorded. Returns the flags of insertRun, the child's id, whether this statement inserted it, and
 * the newest signal id of the parent (an executeChild that parks next on a child it inserted compares it,
 * so a child that ends in between makes it due at once). The child's trace context is the parent's
 * `kagzi.child.start` span, so the child's runs join the parent's trace. A child started (with
 * onParentClose 'cancel') while a cancel of its parent is requested but not yet delivered is inserted
 * with that request, as the continue-as-new run is: the cancel statement, which treats children created
 * after the request as compensation, would otherwise miss it.
 */
export const startChild = statement(
  'startChild',
  (s) => `
with fenced as (
  select r.id, case when r.cancel_requested_at is not null and r.cancel_cut_at is null and $9::text = 'cancel' then r.cancel_requested_at end as cancel_at,
         r.cancel_reason
  from "${s}".workflow_runs r
  where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
  for update of r
), ${chooseVersion(s, '$5::text', '$6::int')}, inserted as (
  insert into "${s}".workflow_runs (id, workflow_name, workflow_version, status, input, idempotency_key, due_at, parent_run_id, on_parent_close, trace_context,
                                    cancel_requested_at, cancel_reason)
  select $4::uuid, $5::text, u.version, 'PENDING', $7::json, $8::text, now(), f.id, $9::text, $13::jsonb,
         f.cancel_at, case when f.cancel_at is not null then f.cancel_reason end
  from usable u, fenced f
  on conflict do nothing
  returning id, workflow_name
), child as (
  select id from inserted
  union all
  select r.id from "${s}".workflow_runs r
  where r.workflow_name = $5::text and r.idempotency_key = $8::text and not exists (select 1 from inserted) and exists (select 1 from fenced)
), recorded as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, output, completed_at, parallel_group_id, parent_step_id)
  select f.id, $10::text, $5::text, 'CHILD', 'COMPLETED', json_build_object('json', c.id), now(), $11::text, $12::text
  from fenced f, (select id from child limit 1) c
  on conflict (workflow_run_id, step_key) do nothing
  returning id
)
select exists (select 1 from fenced) as held, ${versionFlags},
       (select id from child limit 1) as id, exists (select 1 from inserted) as inserted, exists (select 1 from recorded) as recorded,
       (select coalesce(max(g.id), 0) from "${s}".signals g where g.workflow_run_id = $1::uuid) as newest_seen,
       (select pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) from inserted) is null as notified`,
  (a: {
    runId: string; owner: string; epoch: number; childId: string; name: string; version?: number; input: string; idempotencyKey: string;
    onParentClose: 'cancel' | 'abandon'; key: string; group?: string; branch?: string; traceContext?: Record<string, string>;
  }) => [
    a.runId, a.owner, a.epoch, a.childId, a.name, a.version ?? null, a.input, a.idempotencyKey, a.onParentClose, a.key, a.group ?? null, a.branch ?? null,
    a.traceContext ? JSON.stringify(a.traceContext) : null,
  ],
);
