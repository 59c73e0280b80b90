import { performance } from 'node:perf_hooks';
import { BenchApp, bootBenchApp } from '../bench-app';
import { countByName, QueryRecord, waitQuiet } from '../probe';
import { emit, median, medianCi95, note, round, spread, summarize } from '../report';
import { ScenarioContext } from '../scenario';
import { ChildParentWorkflow, childRunIds, InlineStepWorkflow } from '../workflows';

type Variant = 'inline' | 'child';

/** One run: times are `performance.now()` ms. */
interface Run {
  variant: Variant;
  parentId: string;
  /** The child's run id (variant `child` only). */
  childId?: string;
  /** Just before `client.start()`. */
  t0: number;
  /** `result()` resolved. */
  end: number;
}

/** Whose run a statement serves, told by the run ids among its parameters and returned rows. */
type Owner = 'parent' | 'child' | 'both' | 'neither';

/**
 * `ctx.executeChild` against an inline step. A: `BenchInlineStep` calls one trivial step. B:
 * `BenchChildParent` calls `ctx.executeChild(BenchChildWork)`, whose run calls the same trivial step.
 * Start → result, one run at a time with the default worker options, each started once the worker has
 * been quiet for 20 ms; the variants alternate (A B, B A, …). Statements are counted as in `statements`
 * (an idle worker with a 1-minute fallback poll, a few runs of each, median kept) and split by run id.
 */
export async function runChild(ctx: ScenarioContext): Promise<void> {
  const { childN: n, childWarmup: warmup, statementsReps: reps } = ctx.config;
  let seq = 0;

  const app = await bootBenchApp(ctx.target, {});
  try {
    await app.reset();
    app.probe.captureValues = true;
    app.probe.start(); // the idle check reads the probe, so it records during the warm-up too
    for (let i = 0; i < warmup; i++) {
      for (const v of i % 2 === 0 ? (['inline', 'child'] as const) : (['child', 'inline'] as const)) await oneRun(app, v, `warm-${seq++}`, 20);
    }
    app.probe.start();
    const runs: Run[] = [];
    for (let i = 0; i < n; i++) {
      for (const v of i % 2 === 0 ? (['inline', 'child'] as const) : (['child', 'inline'] as const)) runs.push(await oneRun(app, v, `run-${seq++}`, 20));
    }
    await app.probe.settled();
    const { records } = app.probe.stop();
    app.probe.captureValues = false;

    const inline = runs.filter((r) => r.variant === 'inline');
    const child = runs.filter((r) => r.variant === 'child');
    const a = summarize(inline.map((r) => r.end - r.t0));
    const b = summarize(child.map((r) => r.end - r.t0));
    // Pairs in measurement order: the i-th inline run and the i-th child run ran back to back.
    const diffs = child.map((r, i) => r.end - r.t0 - (inline[i].end - inline[i].t0));
    const perRun = (r: Run): QueryRecord[] => records.filter((q) => q.t0 >= r.t0 && q.t0 < r.end);
    const phases = childPhases(child, perRun);
    for (const [variant, s] of [['inline', a], ['child', b]] as const) {
      for (const p of ['p50', 'p95'] as const) {
        emit({
          scenario: 'child',
          metric: `${variant}_start_to_result_${p}_ms`,
          value: s[p],
          unit: 'ms',
          n,
          params: { workflow: variant === 'inline' ? 'parent calls one trivial step' : 'parent calls ctx.executeChild, the child calls the same step', worker: 'idle', worker_concurrency: 10, warmup },
          detail:
            p === 'p50'
              ? { ...s, statements_in_window_median: median((variant === 'inline' ? inline : child).map((r) => perRun(r).length)), ...(variant === 'child' ? { phases_median_ms: phases } : {}) }
              : undefined,
        });
      }
    }
    emit({
      scenario: 'child',
      metric: 'child_extra_p50_ms',
      value: b.p50 - a.p50,
      unit: 'ms',
      n,
      target: '<=10',
      params: { from: 'start()', to: 'result()', of: 'p50(executeChild) - p50(inline step)' },
      detail: { paired_difference_median_ms: round(median(diffs), 3), paired_difference_ci95_ms: medianCi95(diffs).map((x) => round(x, 3)), paired_difference_spread_ms: spread(diffs) },
    });
    note(`[child] median phases of a child run (ms): ${JSON.stringify(phases)}`);
  } finally {
    await app.close();
  }

  // Statement counts on an idle worker. The fallback poll is 5 s, not 1 m as in `statements`: a parent
  // that parks just after its child ended waits for it (see childPhases). A timer claim that falls
  // inside a window claims nothing, names no run, and is counted under `neither`.
  const quiet = await bootBenchApp(ctx.target, { pollInterval: '5s' });
  try {
    await quiet.reset();
    quiet.probe.captureValues = true;
    quiet.probe.start();
    for (let i = 0; i < 3; i++) {
      await oneRun(quiet, 'inline', `warm-${seq++}`, 200);
      await oneRun(quiet, 'child', `warm-${seq++}`, 200);
    }
    const counts: Record<Variant, Array<{ owners: Record<Owner, QueryRecord[]>; total: QueryRecord[]; newConnections: number; listenerQueries: number }>> = { inline: [], child: [] };
    for (let i = 0; i < reps; i++) {
      for (const v of i % 2 === 0 ? (['inline', 'child'] as const) : (['child', 'inline'] as const)) {
        quiet.probe.start();
        const run = await oneRun(quiet, v, `count-${seq++}`, 200);
        await waitQuiet(quiet.probe, 200);
        const result = quiet.probe.stop();
        const total = result.records.filter((r) => r.t0 >= run.t0);
        counts[v].push({ owners: classify(total, run), total, newConnections: result.newConnections, listenerQueries: result.listenerQueries.length });
      }
    }
    quiet.probe.captureValues = false;
    /** The rep whose parent count is the median (the same rep supplies every breakdown). */
    const pick = (v: Variant): (typeof counts)[Variant][number] => {
      const parentCount = (c: (typeof counts)[Variant][number]): number => c.owners.parent.length + c.owners.both.length;
      const mid = median(counts[v].map(parentCount));
      return counts[v].find((c) => parentCount(c) === mid) ?? counts[v][0];
    };
    const ca = pick('inline');
    const cb = pick('child');
    const parentA = ca.owners.parent.length + ca.owners.both.length;
    const parentB = cb.owners.parent.length + cb.owners.both.length;
    const describe = (c: (typeof counts)[Variant][number]): Record<string, unknown> => ({
      total: c.total.length,
      commits: c.total.filter((r) => r.write).length,
      parent_only: countByName(c.owners.parent),
      parent_and_child: countByName(c.owners.both),
      child: countByName(c.owners.child),
      neither: countByName(c.owners.neither),
      new_connections: c.newConnections,
      listen_connection_queries: c.listenerQueries,
    });
    note(`[child] statements per run, inline: ${JSON.stringify(describe(ca))}`);
    note(`[child] statements per run, executeChild: ${JSON.stringify(describe(cb))}`);
    const window = 'from just before start() until the worker is quiet for 200 ms; a statement is the parent\'s if its parameters or returned row ids include the parent\'s run id (the child\'s insert and the CHILD record name both runs and count as the parent\'s), the child\'s if they include only the child\'s';
    emit({
      scenario: 'child',
      metric: 'parent_extra_statements',
      value: parentB - parentA,
      n: reps,
      target: '<=2',
      params: { worker: 'idle, fallback poll 5s', of: "parent's own statements with executeChild - with the inline step" },
      detail: {
        parent_statements: { inline: parentA, child: parentB },
        parent_commits: { inline: [...ca.owners.parent, ...ca.owners.both].filter((r) => r.write).length, child: [...cb.owners.parent, ...cb.owners.both].filter((r) => r.write).length },
        reps_parent: { inline: counts.inline.map((c) => c.owners.parent.length + c.owners.both.length), child: counts.child.map((c) => c.owners.parent.length + c.owners.both.length) },
        inline: describe(ca),
        child: describe(cb),
        note: window,
      },
    });
    emit({
      scenario: 'child',
      metric: 'child_run_statements',
      value: cb.owners.child.length,
      n: reps,
      params: { worker: 'idle, fallback poll 5s' },
      detail: {
        commits: cb.owners.child.filter((r) => r.write).length,
        by_statement: countByName(cb.owners.child),
        reps: counts.child.map((c) => c.owners.child.length),
        note: "statements naming only the child's run id; its finishRun also signals and wakes the parent in the same statement",
      },
    });
    emit({
      scenario: 'child',
      metric: 'total_extra_statements',
      value: cb.total.length - ca.total.length,
      n: reps,
      params: { worker: 'idle, fallback poll 5s', of: 'all statements with executeChild - with the inline step (parent + child + neither)' },
      detail: { total: { inline: ca.total.length, child: cb.total.length }, commits: { inline: ca.total.filter((r) => r.write).length, child: cb.total.filter((r) => r.write).length } },
    });
  } finally {
    await quiet.close();
  }
}

/** Starts one run once the worker has been quiet for `idleMs` and awaits its result. */
async function oneRun(app: BenchApp, variant: Variant, token: string, idleMs: number): Promise<Run> {
  await waitQuiet(app.probe, idleMs);
  const t0 = performance.now();
  const handle = await app.client.start(variant === 'inline' ? InlineStepWorkflow : ChildParentWorkflow, { token, n: 1 });
  const value = await handle.result();
  const end = performance.now();
  if (value !== 2) throw new Error(`run ${handle.runId} (${variant}) returned ${String(value)}, expected 2`);
  const childId = childRunIds.get(token);
  childRunIds.delete(token);
  if (variant === 'child' && childId === undefined) throw new Error(`run ${handle.runId} finished but its child never ran in this process`);
  return { variant, parentId: handle.runId, childId, t0, end };
}

function mentions(record: QueryRecord, id: string): boolean {
  if (record.resultIds?.includes(id)) return true;
  return (record.values ?? []).some((v) => v === id || (Array.isArray(v) && v.includes(id)));
}

function classify(records: readonly QueryRecord[], run: Run): Record<Owner, QueryRecord[]> {
  const owners: Record<Owner, QueryRecord[]> = { parent: [], child: [], both: [], neither: [] };
  for (const r of records) {
    const p = mentions(r, run.parentId);
    const c = run.childId !== undefined && mentions(r, run.childId);
    owners[p && c ? 'both' : p ? 'parent' : c ? 'child' : 'neither'].push(r);
  }
  return owners;
}

/**
 * Per child run: start() → the parent's claim issued; the parent's first execution (claim → its park
 * replied); the child's insert reply → the child's claim issued; the child's run (claim → its finishRun
 * replied); the child's finishRun reply → the parent's second claim issued (the wake-up); the parent's
 * resume (that claim → its finishRun replied); and that finish → result() resolved (medians over the
 * runs that parked and were woken).
 */
function childPhases(runs: readonly Run[], perRun: (r: Run) => QueryRecord[]): Record<string, number> {
  // How the parent met its child's end: parked, then woken by it (the usual case); found it already
  // stored when it reached the wait (no park); or parked after the child's finishRun had been issued.
  // woken_by_fallback_poll: the parent's second claim came > 100 ms after the child's end (no wake-up).
  const outcomes = { parked_then_woken: 0, child_ended_before_the_wait: 0, parked_after_the_child_ended: 0, woken_by_fallback_poll: 0 };
  const phases: Record<string, number[]> = { start_to_parent_claim: [], parent_first_execution: [], child_insert_to_child_claim: [], child_run: [], child_finish_to_parent_claim: [], parent_resume: [], finish_to_result: [] };
  for (const r of runs) {
    const qs = perRun(r);
    const childId = r.childId as string;
    const claims = qs.filter((q) => q.name === 'claimRuns' && (q.resultIds ?? []).length > 0);
    const parentClaims = claims.filter((q) => q.resultIds?.includes(r.parentId));
    const childClaim = claims.find((q) => q.resultIds?.includes(childId));
    const childInsert = qs.find((q) => q.name === 'startChild' && mentions(q, childId));
    const finishes = qs.filter((q) => q.name === 'finishRun');
    const childFinish = finishes.find((q) => mentions(q, childId));
    const parentFinish = finishes.find((q) => mentions(q, r.parentId));
    const parentPark = qs.find((q) => q.name === 'parkForSignal' && mentions(q, r.parentId));
    if (!parentPark) outcomes.child_ended_before_the_wait++;
    else if (childFinish && parentPark.t0 > childFinish.t0) outcomes.parked_after_the_child_ended++;
    else outcomes.parked_then_woken++;
    if (parentClaims.length >= 2 && childFinish?.t1 && parentClaims[1].t0 - childFinish.t1 > 100) outcomes.woken_by_fallback_poll++;
    if (parentClaims.length < 2 || !childClaim?.t1 || !childInsert?.t1 || !childFinish?.t1 || !parentFinish?.t1 || !parentPark?.t1) continue;
    phases.start_to_parent_claim.push(parentClaims[0].t0 - r.t0);
    phases.parent_first_execution.push(parentPark.t1 - parentClaims[0].t0);
    phases.child_insert_to_child_claim.push(childClaim.t0 - childInsert.t1);
    phases.child_run.push(childFinish.t1 - childClaim.t0);
    phases.child_finish_to_parent_claim.push(parentClaims[1].t0 - childFinish.t1);
    phases.parent_resume.push(parentFinish.t1 - parentClaims[1].t0);
    phases.finish_to_result.push(r.end - parentFinish.t1);
  }
  return { ...Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, round(median(v), 3)])), ...outcomes };
}
