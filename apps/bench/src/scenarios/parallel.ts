import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { BenchApp, bootBenchApp } from '../bench-app';
import { QueryRecord } from '../probe';
import { emit, median, note, round, sleep, spread } from '../report';
import { ScenarioContext } from '../scenario';
import { TimedStepsInput, TimedStepsWorkflow } from '../workflows';
import { RunCount, countOne } from './statements';

/** What each step body waits (a timer: no CPU, no I/O). */
const STEP_MS = 100;
/** Group sizes measured, each against the same steps in sequence; with the speedup each must reach. */
const SHAPES = [
  { steps: 5, target: '>=4.8' },
  { steps: 3, target: '>=2.8' },
] as const;
const WARMUP_ROUNDS = 3;

interface Variant {
  label: string;
  input: TimedStepsInput;
}

/** One run's window, start() → result(), and the statements issued inside it. */
interface RunWindow {
  t0: number;
  t1: number;
  records: QueryRecord[];
}

/**
 * What `ctx.parallel` buys: N steps whose bodies each await a 100 ms timer, run one after another vs
 * all at once in one parallel group, for N = 5 and N = 3, plus a single such step as the floor.
 * Wall time is start() → result(), one run at a time with the variants interleaved (the order
 * rotates every round so drift and position effects cancel), default worker options as in `latency`.
 * The speedup is median(sequential) / median(parallel); the overhead is median(parallel) − 100 ms.
 * Statements per run are counted as `statements` counts them (idle worker, 1-minute fallback poll).
 */
export async function runParallelScenario(ctx: ScenarioContext): Promise<void> {
  const reps = ctx.config.parallelReps;
  const single: Variant = { label: '1 step', input: { steps: 1, parallel: false, ms: STEP_MS } };
  const variants: Variant[] = [single];
  for (const { steps } of SHAPES) {
    variants.push({ label: `${steps} sequential`, input: { steps, parallel: false, ms: STEP_MS } });
    variants.push({ label: `${steps} parallel`, input: { steps, parallel: true, ms: STEP_MS } });
  }

  const app = await bootBenchApp(ctx.target, {});
  let windows: RunWindow[][];
  let poolSize: { total: number; max: number };
  try {
    await app.reset();
    windows = await interleave(app, reps, variants);
    const pool = app.db.pool as unknown as { totalCount: number; options: { max?: number } };
    poolSize = { total: pool.totalCount, max: pool.options.max ?? NaN };
  } finally {
    await app.close();
  }

  const counts = await countStatements(ctx, variants.slice(1));

  const wall = (v: number): number[] => windows[v].map((w) => w.t1 - w.t0);
  const singleMs = median(wall(0));
  const singlePhases = phases(windows[0], 1);
  SHAPES.forEach(({ steps, target }, s) => {
    const seqIndex = 1 + 2 * s;
    const parIndex = seqIndex + 1;
    const seq = wall(seqIndex);
    const par = wall(parIndex);
    const seqMs = median(seq);
    const parMs = median(par);
    const seqPhases = phases(windows[seqIndex], steps);
    const parPhases = phases(windows[parIndex], 1);
    const seqCount = counts[seqIndex - 1];
    const parCount = counts[parIndex - 1];
    const params = { steps, step_ms: STEP_MS, runs: 'one at a time, variants interleaved', worker_concurrency: 10 };

    emit({
      scenario: 'parallel',
      metric: 'wall_ms',
      value: seqMs,
      unit: 'ms',
      n: seq.length,
      params: { ...params, mode: 'sequential' },
      detail: { ideal_ms: steps * STEP_MS, overhead_ms: round(seqMs - steps * STEP_MS, 2), wall_ms: spread(seq, 2), phases_median_ms: seqPhases },
    });
    emit({
      scenario: 'parallel',
      metric: 'wall_ms',
      value: parMs,
      unit: 'ms',
      n: par.length,
      params: { ...params, mode: 'parallel' },
      detail: { ideal_ms: STEP_MS, wall_ms: spread(par, 2), phases_median_ms: parPhases },
    });
    emit({
      scenario: 'parallel',
      metric: 'speedup',
      value: seqMs / parMs,
      unit: 'x',
      n: par.length,
      target,
      params: { ...params, compared: 'median sequential / median parallel' },
      detail: {
        ideal: steps,
        paired_ratio: spread(seq.map((t, i) => t / par[i]), 3),
      },
    });
    emit({
      scenario: 'parallel',
      metric: 'overhead_ms',
      value: parMs - STEP_MS,
      unit: 'ms',
      n: par.length,
      params: { ...params, compared: 'median parallel - 100 ms (the ideal)' },
      detail: {
        single_step_run_ms: round(singleMs, 2),
        single_step_overhead_ms: round(singleMs - STEP_MS, 2),
        single_step_phases_median_ms: singlePhases,
        group_extra_over_single_step_ms: round(parMs - singleMs, 2),
        sequential_overhead_ms: round(seqMs - steps * STEP_MS, 2),
        sequential_overhead_per_step_ms: round((seqMs - singleMs) / (steps - 1) - STEP_MS, 2),
        pool: poolSize,
      },
    });
    emit({
      scenario: 'parallel',
      metric: 'statements_per_run',
      value: parCount.total,
      n: ctx.config.statementsReps,
      params: { steps, mode: 'parallel', worker: 'idle', method: 'as in `statements`' },
      detail: {
        by_statement: parCount.byName,
        commits: parCount.commits,
        xids_assigned_min: parCount.xidsMin,
        reps: parCount.reps,
        sequential: { total: seqCount.total, commits: seqCount.commits, by_statement: seqCount.byName },
        new_connections: parCount.newConnections,
      },
    });
  });
  const overlap = windows.map((ws, v) => `${variants[v].label}: ${median(ws.map((w) => maxOverlap(w.records.filter((r) => r.name === 'commitStep'))))}`);
  note(`[parallel] median commits in flight at once: ${overlap.join('; ')}`);
}

/**
 * `reps` rounds; each round runs every variant once, one run at a time, starting from a different
 * variant each round. Statements are split by run window.
 */
async function interleave(app: BenchApp, reps: number, variants: readonly Variant[]): Promise<RunWindow[][]> {
  const run = (v: Variant): Promise<unknown> => app.client.start(TimedStepsWorkflow, v.input).then((h) => h.result());
  for (let i = 0; i < WARMUP_ROUNDS; i++) for (const v of variants) await run(v);
  const windows: RunWindow[][] = variants.map(() => []);
  const order: RunWindow[] = [];
  app.probe.start();
  for (let i = 0; i < reps; i++) {
    for (let k = 0; k < variants.length; k++) {
      const v = (i + k) % variants.length;
      const t0 = performance.now();
      await run(variants[v]);
      const window: RunWindow = { t0, t1: performance.now(), records: [] };
      windows[v].push(window);
      order.push(window);
    }
  }
  await sleep(50); // the last run's trailing statements
  const { records } = app.probe.stop();
  let cursor = 0;
  for (const window of order) {
    while (cursor < records.length && records[cursor].t0 < window.t1) {
      if (records[cursor].t0 >= window.t0) window.records.push(records[cursor]);
      cursor++;
    }
  }
  return windows;
}

/**
 * Median phases of the runs (ms). `claim_to_first_commit` is the first step's 100 ms timer plus the
 * code around it; `commits_span` runs from the first step commit issued to the last one's reply (in
 * sequence it includes the 100 ms timers between them); `non_timer_ms` is the wall time minus the
 * `timers` × 100 ms spent in step bodies on the critical path (5 or 3 in sequence, 1 in parallel).
 * A negative `notify_to_claim` / `finish_to_result` means the NOTIFY arrived (on another connection)
 * before the reply to the statement that sent it.
 */
function phases(windows: readonly RunWindow[], timers: number): Record<string, number> {
  const p: Record<string, number[]> = {
    start_call: [], notify_to_claim: [], claim: [], claim_to_first_commit: [], commit_each: [], commits_span: [], commits_in_flight_max: [],
    last_commit_to_finish: [], finish: [], finish_to_result: [], non_timer_ms: [],
  };
  for (const w of windows) {
    const insert = w.records.find((r) => r.name === 'insertRun');
    const claim = w.records.find((r) => r.name === 'claimRuns' && (r.rows ?? 0) > 0);
    const finish = w.records.find((r) => r.name === 'finishRun');
    const commits = w.records.filter((r) => r.name === 'commitStep');
    if (!insert?.t1 || !claim?.t1 || !finish?.t1 || commits.length === 0 || commits.some((c) => c.t1 === undefined)) continue;
    const lastCommitEnd = Math.max(...commits.map((c) => c.t1 as number));
    p.start_call.push(insert.t1 - w.t0);
    p.notify_to_claim.push(claim.t0 - insert.t1);
    p.claim.push(claim.t1 - claim.t0);
    p.claim_to_first_commit.push(commits[0].t0 - claim.t1);
    for (const c of commits) p.commit_each.push((c.t1 as number) - c.t0);
    p.commits_span.push(lastCommitEnd - commits[0].t0);
    p.commits_in_flight_max.push(maxOverlap(commits));
    p.last_commit_to_finish.push(finish.t0 - lastCommitEnd);
    p.finish.push(finish.t1 - finish.t0);
    p.finish_to_result.push(w.t1 - finish.t1);
    p.non_timer_ms.push(w.t1 - w.t0 - timers * STEP_MS);
  }
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, round(median(v), 3)]));
}

/** How many of the statements were awaiting their reply at the same moment, at most. */
function maxOverlap(records: readonly QueryRecord[]): number {
  const events = records.flatMap((r) => (r.t1 === undefined ? [] : [{ t: r.t0, d: 1 }, { t: r.t1, d: -1 }]));
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of events) max = Math.max(max, (now += e.d));
  return max;
}

/** Statements per run of each variant, counted as `statements` does: the median rep of `statementsReps`. */
async function countStatements(ctx: ScenarioContext, variants: readonly Variant[]): Promise<Array<RunCount & { reps: number[]; xidsMin: number }>> {
  const idle = await bootBenchApp(ctx.target, { pollInterval: '1m' });
  const admin = new Client({ connectionString: idle.db.url });
  await admin.connect();
  try {
    await idle.reset();
    // warm the pool: a parallel group needs as many connections as it has branches, each with its statements prepared
    for (let i = 0; i < WARMUP_ROUNDS; i++) for (const v of variants) await (await idle.client.start(TimedStepsWorkflow, v.input)).result();
    const out: Array<RunCount & { reps: number[]; xidsMin: number }> = [];
    for (const v of variants) {
      const runs: RunCount[] = [];
      for (let i = 0; i < ctx.config.statementsReps; i++) runs.push(await countOne(idle, admin, TimedStepsWorkflow, v.input));
      const mid = median(runs.map((r) => r.total));
      const chosen = runs.find((r) => r.total === mid) ?? runs[0];
      note(`[parallel] ${v.label}: statements per rep ${runs.map((r) => r.total).join(', ')}; ${JSON.stringify(chosen.byName)}`);
      out.push({ ...chosen, reps: runs.map((r) => r.total), xidsMin: Math.min(...runs.map((r) => r.xids)) });
    }
    return out;
  } finally {
    await admin.end();
    await idle.close();
  }
}
