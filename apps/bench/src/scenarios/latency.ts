import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { bootBenchApp } from '../bench-app';
import { QueryRecord } from '../probe';
import { emit, note, round, summarize } from '../report';
import { ScenarioContext } from '../scenario';
import { ThreeStepWorkflow } from '../workflows';

/**
 * start() → result() for a 3-step workflow, one run at a time, default worker options (the client and
 * the worker share one process, as in a typical app). Statement timestamps from the pool probe split
 * each run into phases, so the report says where the milliseconds go. Also measures the server's floor:
 * a `select 1` round trip and a one-row insert commit on a separate connection.
 */
export async function runLatency(ctx: ScenarioContext): Promise<void> {
  const { latencyN: n, latencyWarmup: warmup } = ctx.config;
  const app = await bootBenchApp(ctx.target, {});
  try {
    await app.reset();
    for (let i = 0; i < warmup; i++) await (await app.client.start(ThreeStepWorkflow, { n: i })).result();

    const windows: Array<{ t0: number; t1: number }> = [];
    app.probe.start();
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const handle = await app.client.start(ThreeStepWorkflow, { n: i });
      await handle.result();
      windows.push({ t0, t1: performance.now() });
    }
    const { records } = app.probe.stop();
    const total = summarize(windows.map((w) => w.t1 - w.t0));
    const phases = phaseBreakdown(records, windows);
    for (const p of ['p50', 'p95', 'p99'] as const) {
      emit({
        scenario: 'latency',
        metric: `${p}_ms`,
        value: total[p],
        unit: 'ms',
        n,
        target: p === 'p50' ? '<=5' : undefined,
        params: { workflow: '3 steps', worker_concurrency: 10, warmup },
        detail: p === 'p50' ? { ...total, statements_per_run: round(records.length / n), phases_median_ms: phases } : undefined,
      });
    }
    note(`[latency] median phases (ms): ${JSON.stringify(phases)}`);

    const floor = await serverFloor(app.db.url, app.db.schema);
    emit({ scenario: 'latency', metric: 'floor_select_round_trip_ms', value: floor.select.p50, unit: 'ms', n: floor.n, detail: floor.select });
    emit({ scenario: 'latency', metric: 'floor_insert_commit_ms', value: floor.commit.p50, unit: 'ms', n: floor.n, detail: floor.commit });
  } finally {
    await app.close();
  }
}

/**
 * Per run: start() until the insert returned; insert → claim issued (NOTIFY delivery + worker wake);
 * the claim; claim → finish issued (the three step commits and the code between them); the finish;
 * finish → result() resolved (NOTIFY delivery + the client's read of the outcome).
 */
function phaseBreakdown(records: readonly QueryRecord[], windows: ReadonlyArray<{ t0: number; t1: number }>): Record<string, number> {
  const phases: Record<string, number[]> = {
    start_call: [], notify_to_claim: [], claim: [], steps: [], step_commit_each: [], finish: [], finish_to_result: [],
  };
  let cursor = 0;
  for (const w of windows) {
    const inWindow: QueryRecord[] = [];
    while (cursor < records.length && records[cursor].t0 < w.t1) {
      if (records[cursor].t0 >= w.t0) inWindow.push(records[cursor]);
      cursor++;
    }
    const insert = inWindow.find((r) => r.name === 'insertRun');
    const claim = inWindow.find((r) => r.name === 'claimRuns' && (r.rows ?? 0) > 0);
    const finish = inWindow.find((r) => r.name === 'finishRun');
    const commits = inWindow.filter((r) => r.name === 'commitStep');
    if (!insert?.t1 || !claim?.t1 || !finish?.t1) continue;
    phases.start_call.push(insert.t1 - w.t0);
    phases.notify_to_claim.push(claim.t0 - insert.t1);
    phases.claim.push(claim.t1 - claim.t0);
    phases.steps.push(finish.t0 - claim.t1);
    for (const c of commits) if (c.t1) phases.step_commit_each.push(c.t1 - c.t0);
    phases.finish.push(finish.t1 - finish.t0);
    phases.finish_to_result.push(w.t1 - finish.t1);
  }
  return Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, summarize(v).p50]));
}

async function serverFloor(url: string, schema: string): Promise<{ n: number; select: ReturnType<typeof summarize>; commit: ReturnType<typeof summarize> }> {
  const n = 300;
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`create table if not exists "${schema}".bench_floor (id bigint generated always as identity primary key, v int)`);
    const select: number[] = [];
    const commit: number[] = [];
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      await client.query({ name: 'bench_floor_select', text: 'select 1' });
      select.push(performance.now() - t);
      t = performance.now();
      await client.query({ name: 'bench_floor_insert', text: `insert into "${schema}".bench_floor (v) values ($1)`, values: [i] });
      commit.push(performance.now() - t);
    }
    await client.query(`drop table "${schema}".bench_floor`);
    return { n, select: summarize(select), commit: summarize(commit) };
  } finally {
    await client.end();
  }
}
