import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
// Not public API: the step_attempts insert is timed on its own against the library's commitStep SQL.
import { commitStep } from '../../../../libs/kagzi/src/persistence/sql/commit-step.sql';
import { BenchApp, bootBenchApp } from '../bench-app';
import { QueryRecord } from '../probe';
import { emit, median, medianCi95, note, round, spread, sleep } from '../report';
import { ScenarioContext } from '../scenario';
import { LoopExponentialWorkflow, LoopNoRetryWorkflow, RetryOnceInput, RetryOnceWorkflow } from '../workflows';
import { RunCount, countOne } from './statements';

/** The library's warning for each failed attempt it will retry: the scenario fails hundreds on purpose. */
const RETRY_WARNING = /attempt \d+ failed .*; retrying at /;
const WARMUP = 10;

let tokens = 0;
const retryInput = (fail: boolean): RetryOnceInput => ({ token: `${process.pid}-${++tokens}`, fail });

/** One run's window, start() → result(), and the statements issued inside it. */
interface RunWindow {
  t0: number;
  t1: number;
  records: QueryRecord[];
}

/**
 * What retry support costs:
 *  1. On the happy path: the same N-step workflow with `RetryPolicy.exponential()` on every step vs
 *     `RetryPolicy.none()`, one run at a time, A/B alternating run by run. Also, at the statement level,
 *     what the `step_attempts` row that every step commit now writes costs (policy or not).
 *  2. One retry cycle: a step that fails once (fixed policy, interval 0) vs the same workflow with no
 *     failure: extra wall time (split into phases) and extra statements (counted as `statements` does).
 */
export async function runRetry(ctx: ScenarioContext): Promise<void> {
  const { retrySteps: steps, retryReps: reps, statementsReps } = ctx.config;
  const app = await bootBenchApp(ctx.target, {}, { suppressLogs: RETRY_WARNING });
  try {
    await app.reset();
    await happyPath(app, steps, reps);
    await retryCycleTiming(app, reps);
    await attemptRowCost(app.db.url, app.db.schema, Math.max(300, reps * 5));
  } finally {
    await app.close();
  }
  // Statement counts on an otherwise idle worker whose fallback poll cannot land inside the window.
  const idle = await bootBenchApp(ctx.target, { pollInterval: '1m' }, { suppressLogs: RETRY_WARNING });
  const admin = new Client({ connectionString: idle.db.url });
  await admin.connect();
  try {
    await idle.reset();
    await retryCycleStatements(idle, admin, statementsReps);
  } finally {
    await admin.end();
    await idle.close();
  }
}

/**
 * Runs `reps` of each variant one at a time, alternating the order (AB, BA, AB, …) so that drift
 * and any first-or-second effect cancel, and splits the recorded statements by run.
 */
async function alternate(app: BenchApp, reps: number, variants: ReadonlyArray<() => Promise<unknown>>): Promise<RunWindow[][]> {
  for (let i = 0; i < WARMUP; i++) for (const run of variants) await run();
  const windows: RunWindow[][] = variants.map(() => []);
  const order: Array<{ variant: number; window: RunWindow }> = [];
  app.probe.start();
  for (let i = 0; i < reps; i++) {
    const picks = variants.map((_, v) => (i % 2 === 0 ? v : variants.length - 1 - v));
    for (const v of picks) {
      const t0 = performance.now();
      await variants[v]();
      const window: RunWindow = { t0, t1: performance.now(), records: [] };
      windows[v].push(window);
      order.push({ variant: v, window });
    }
  }
  await sleep(50); // let the last run's trailing statements settle before the probe stops
  const { records } = app.probe.stop();
  let cursor = 0;
  for (const { window } of order) {
    while (cursor < records.length && records[cursor].t0 < window.t1) {
      if (records[cursor].t0 >= window.t0) window.records.push(records[cursor]);
      cursor++;
    }
  }
  return windows;
}

const claimed = (r: QueryRecord): boolean => r.name === 'claimRuns' && (r.rows ?? 0) > 0;
const dur = (r: QueryRecord | undefined): number => (r?.t1 === undefined ? NaN : r.t1 - r.t0);

async function happyPath(app: BenchApp, steps: number, reps: number): Promise<void> {
  const variants = [
    { policy: 'exponential', run: () => app.client.start(LoopExponentialWorkflow, { steps }).then((h) => h.result()) },
    { policy: 'none', run: () => app.client.start(LoopNoRetryWorkflow, { steps }).then((h) => h.result()) },
  ];
  const windows = await alternate(app, reps, variants.map((v) => v.run));

  // Per step: claim returned → finish issued (the N step commits and the code between them), / N.
  const perStep = windows.map((ws) =>
    ws.map((w) => {
      const claim = w.records.find(claimed);
      const finish = w.records.find((r) => r.name === 'finishRun');
      return claim?.t1 === undefined || !finish ? NaN : (finish.t0 - claim.t1) / steps;
    }),
  );
  const diffs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const d = perStep[0][i] - perStep[1][i];
    if (Number.isFinite(d)) diffs.push(d);
  }
  const { rows } = await app.db.pool.query<{ steps: string; attempts: string }>(
    `select (select count(*) from "${app.db.schema}".step_runs) as steps, (select count(*) from "${app.db.schema}".step_attempts) as attempts`,
  );

  variants.forEach((variant, v) => {
    const ws = windows[v];
    const values = perStep[v].filter(Number.isFinite);
    const commits = ws.flatMap((w) => w.records.filter((r) => r.name === 'commitStep').map(dur));
    emit({
      scenario: 'retry',
      metric: 'ms_per_step',
      value: median(values),
      unit: 'ms',
      n: values.length,
      params: { policy: variant.policy, steps, order: 'A/B alternating, one run at a time' },
      detail: {
        per_step_ms: spread(values),
        wall_ms_per_run: spread(ws.map((w) => w.t1 - w.t0), 2),
        commit_step_ms_median: round(median(commits), 3),
        statements_per_run: round(ws.reduce((a, w) => a + w.records.length, 0) / ws.length),
      },
    });
  });
  const ci = medianCi95(diffs);
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  emit({
    scenario: 'retry',
    metric: 'policy_extra_ms_per_step',
    value: round(median(diffs), 4),
    unit: 'ms',
    n: diffs.length,
    target: '<0.2',
    params: { compared: 'exponential - none, paired run by run', steps },
    detail: {
      median_ci95: [round(ci[0], 4), round(ci[1], 4)],
      paired_diff_ms: spread(diffs, 4),
      mean_diff_ms: round(mean, 4),
      difference_of_medians_ms: round(median(perStep[0].filter(Number.isFinite)) - median(perStep[1].filter(Number.isFinite)), 4),
      step_attempts_rows_per_step: round(Number(rows[0].attempts) / Number(rows[0].steps), 3),
    },
  });
}

/**
 * The step_attempts row every commit writes (first-attempt successes included), timed at the
 * statement level: the library's commitStep vs the same statement without its `attempt` CTE,
 * alternating, on a connection of its own, against runs that no worker serves.
 */
async function attemptRowCost(url: string, schema: string, pairs: number): Promise<void> {
  const withAttempt = commitStep.text(schema);
  const withoutAttempt = withAttempt.replace(/\), attempt as \([\s\S]*?\n\)\s*\nselect id from step\s*$/, ')\nselect id from step');
  if (withoutAttempt === withAttempt || withoutAttempt.includes('step_attempts')) {
    note('[retry] commitStep no longer has the expected `attempt` CTE; skipping the step_attempts row cost');
    return;
  }
  const client = new Client({ connectionString: url });
  await client.connect();
  const runIds: string[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      const { rows } = await client.query<{ id: string }>(
        `insert into "${schema}".workflow_runs (id, workflow_name, workflow_version, status, due_at, lease_owner, lease_epoch)
         values (gen_random_uuid(), 'BenchAttemptRowCost', 1, 'RUNNING', now() + interval '1 day', 'bench', 1) returning id`,
      );
      runIds.push(rows[0].id);
    }
    // A top-level step: no parallel group or branch.
    let keys = 0;
    const commit = async (variant: 'with' | 'without'): Promise<number> => {
      const i = keys++;
      const t = performance.now();
      const { rowCount } = await client.query({
        name: `bench_commit_step_${variant}`,
        text: variant === 'with' ? withAttempt : withoutAttempt,
        values: commitStep.values({
          runId: runIds[i % runIds.length], owner: 'bench', epoch: 1, key: `add#${i}`, name: 'add', status: 'COMPLETED',
          argsHash: 'hash', output: '1', error: null, startedAt: new Date(), attempt: 1,
        }),
      });
      if (rowCount !== 1) throw new Error(`[retry] commitStep (${variant} attempt row) wrote ${String(rowCount)} rows`);
      return performance.now() - t;
    };
    for (let i = 0; i < 50; i++) {
      await commit('with');
      await commit('without');
    }
    const times: Record<'with' | 'without', number[]> = { with: [], without: [] };
    const diffs: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const first = i % 2 === 0 ? 'with' : 'without';
      const a = await commit(first);
      const b = await commit(first === 'with' ? 'without' : 'with');
      const w = first === 'with' ? a : b;
      const wo = first === 'with' ? b : a;
      times.with.push(w);
      times.without.push(wo);
      diffs.push(w - wo);
    }
    const ci = medianCi95(diffs);
    emit({
      scenario: 'retry',
      metric: 'attempt_row_extra_ms_per_step',
      value: round(median(diffs), 4),
      unit: 'ms',
      n: pairs,
      params: { compared: 'commitStep - commitStep without the step_attempts insert, one statement, paired' },
      detail: {
        median_ci95: [round(ci[0], 4), round(ci[1], 4)],
        commit_with_attempt_row_ms: spread(times.with),
        commit_without_ms: spread(times.without),
        paired_diff_ms: spread(diffs, 4),
        note: 'paid by every step commit whatever its policy (policy none included)',
      },
    });
  } finally {
    if (runIds.length > 0) await client.query(`delete from "${schema}".workflow_runs where id = any($1::uuid[])`, [runIds]);
    await client.end();
  }
}

async function retryCycleTiming(app: BenchApp, reps: number): Promise<void> {
  const run = (fail: boolean) => () => app.client.start(RetryOnceWorkflow, retryInput(fail)).then((h) => h.result());
  const [baseline, retried] = await alternate(app, reps, [run(false), run(true)]);
  const wall = (ws: RunWindow[]): number[] => ws.map((w) => w.t1 - w.t0);
  const diffs = baseline.map((b, i) => retried[i].t1 - retried[i].t0 - (b.t1 - b.t0));
  const ci = medianCi95(diffs);

  // Where the retried run's extra time goes (medians over runs, ms).
  const phases: Record<string, number[]> = {
    attempt_1_fails_to_park_issued: [], record_attempt_and_park: [], park_to_reclaim_issued: [], reclaim: [], load_steps: [],
    replay_and_attempt_2: [], commit_attempt_2: [],
  };
  const baselineGap: number[] = [];
  const baselineCommit: number[] = [];
  for (const w of retried) {
    const commits = w.records.filter((r) => r.name === 'commitStep');
    const park = w.records.find((r) => r.name === 'scheduleRetry');
    const reclaim = w.records.filter(claimed)[1];
    const load = w.records.find((r) => r.name === 'loadSteps');
    const second = park ? commits.find((c) => c.t0 >= park.t0) : undefined;
    if (!park?.t1 || !reclaim?.t1 || !second?.t1 || commits[0]?.t1 === undefined) continue;
    // The reclaim brings the recorded steps; a separate loadSteps only in older releases.
    const historyAt = load?.t1 ?? reclaim.t1;
    phases.attempt_1_fails_to_park_issued.push(park.t0 - commits[0].t1);
    phases.record_attempt_and_park.push(park.t1 - park.t0);
    phases.park_to_reclaim_issued.push(reclaim.t0 - park.t1);
    phases.reclaim.push(reclaim.t1 - reclaim.t0);
    phases.load_steps.push(load?.t1 ? load.t1 - load.t0 : 0);
    phases.replay_and_attempt_2.push(second.t0 - historyAt);
    phases.commit_attempt_2.push(second.t1 - second.t0);
  }
  for (const w of baseline) {
    const commits = w.records.filter((r) => r.name === 'commitStep');
    if (commits[0]?.t1 === undefined || commits[1]?.t1 === undefined) continue;
    baselineGap.push(commits[1].t0 - commits[0].t1);
    baselineCommit.push(commits[1].t1 - commits[1].t0);
  }
  const phaseMedians = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, round(median(v), 3)]));
  const phaseSpread = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, spread(v, 3)]));
  emit({
    scenario: 'retry',
    metric: 'retry_cycle_extra_ms',
    value: round(median(diffs), 3),
    unit: 'ms',
    n: reps,
    params: { workflow: '3 steps, the middle one fails once', policy: 'fixed, maxAttempts 2, interval 0', compared: 'retried - no failure, paired run by run' },
    detail: {
      median_ci95: [round(ci[0], 3), round(ci[1], 3)],
      paired_diff_ms: spread(diffs, 3),
      difference_of_medians_ms: round(median(wall(retried)) - median(wall(baseline)), 3),
      wall_ms_no_failure: spread(wall(baseline), 3),
      wall_ms_retried: spread(wall(retried), 3),
      retried_phases_median_ms: phaseMedians,
      retried_phases_ms: phaseSpread,
      no_failure_same_span_ms: { step_1_commit_to_step_2_commit_issued: round(median(baselineGap), 3), commit_step_2: round(median(baselineCommit), 3) },
      phases_measured_runs: phases.reclaim.length,
    },
  });
  note(`[retry] retried run, median phases (ms): ${JSON.stringify(phaseMedians)}`);
}

async function retryCycleStatements(app: BenchApp, admin: Client, reps: number): Promise<void> {
  // warm every pool connection's prepared statements (scheduleRetry and loadSteps included)
  for (let i = 0; i < 3; i++) {
    await (await app.client.start(RetryOnceWorkflow, retryInput(false))).result();
    await (await app.client.start(RetryOnceWorkflow, retryInput(true))).result();
  }
  const baseline: RunCount[] = [];
  const retried: RunCount[] = [];
  for (let i = 0; i < reps; i++) {
    baseline.push(await countOne(app, admin, RetryOnceWorkflow, retryInput(false)));
    retried.push(await countOne(app, admin, RetryOnceWorkflow, retryInput(true)));
  }
  const pick = (runs: RunCount[]): RunCount => {
    const mid = median(runs.map((r) => r.total));
    return runs.find((r) => r.total === mid) ?? runs[0];
  };
  const b = pick(baseline);
  const r = pick(retried);
  const extraByName: Record<string, number> = {};
  for (const name of new Set([...Object.keys(b.byName), ...Object.keys(r.byName)])) {
    const d = (r.byName[name] ?? 0) - (b.byName[name] ?? 0);
    if (d !== 0) extraByName[name] = d;
  }
  note(`[retry] statements per rep: no failure ${baseline.map((x) => x.total).join(', ')}; retried ${retried.map((x) => x.total).join(', ')}`);
  emit({
    scenario: 'retry',
    metric: 'retry_cycle_extra_statements',
    value: r.total - b.total,
    n: reps,
    params: { workflow: '3 steps, the middle one fails once', worker: 'idle', method: 'as in `statements`' },
    detail: {
      extra_by_statement: extraByName,
      no_failure: { total: b.total, by_statement: b.byName, reps: baseline.map((x) => x.total) },
      retried: { total: r.total, by_statement: r.byName, reps: retried.map((x) => x.total) },
      new_connections: r.newConnections + b.newConnections,
    },
  });
  emit({
    scenario: 'retry',
    metric: 'retry_cycle_extra_commits',
    value: r.commits - b.commits,
    n: reps,
    params: { workflow: '3 steps, the middle one fails once' },
    detail: {
      commits_no_failure: b.commits,
      commits_retried: r.commits,
      xids_min_no_failure: Math.min(...baseline.map((x) => x.xids)),
      xids_min_retried: Math.min(...retried.map((x) => x.xids)),
      notifications_per_run: { no_failure: b.notifications, retried: r.notifications },
    },
  });
}
