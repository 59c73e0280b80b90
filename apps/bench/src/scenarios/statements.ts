import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { WorkflowRef } from '@kagzi/nestjs';
import { BenchApp, bootBenchApp } from '../bench-app';
import { nextXid } from '../database';
import { countByName, QueryRecord } from '../probe';
import { emit, median, note, sleep } from '../report';
import { ScenarioContext } from '../scenario';
import { LoopWorkflow, ThreeStepWorkflow } from '../workflows';

export interface RunCount {
  /** Every statement the run caused, until the worker is idle again. */
  total: number;
  /** Statements issued before `result()` resolved. */
  untilResult: number;
  /** Statements that write: each is its own autocommit transaction, i.e. one commit. */
  commits: number;
  /** Transaction ids assigned meanwhile (server side, cluster-wide: other databases' traffic adds noise). */
  xids: number;
  byName: Record<string, number>;
  newConnections: number;
  listenerQueries: number;
  notifications: number;
  ms: number;
}

/**
 * Statements from `client.start()` to the durable result, counted at the library's pg pool, for an
 * otherwise idle worker. The fallback poll is set to 1 minute so no timer-driven claim lands inside
 * the window; the run is followed until no statement was issued for 200 ms (the worker's re-poll after
 * finishing a run belongs to the run's cost).
 */
export async function runStatements(ctx: ScenarioContext): Promise<void> {
  const app = await bootBenchApp(ctx.target, { pollInterval: '1m' });
  const admin = new Client({ connectionString: app.db.url });
  await admin.connect();
  try {
    await app.reset();
    // warm the pool and every connection's prepared statements; the counts below must not pay for that
    for (let i = 0; i < 3; i++) {
      await (await app.client.start(ThreeStepWorkflow, { n: i })).result();
      await (await app.client.start(LoopWorkflow, { steps: 10 })).result();
    }
    const reps = ctx.config.statementsReps;
    const three = await measure(app, admin, reps, ThreeStepWorkflow, { n: 1 });
    const loop3 = await measure(app, admin, reps, LoopWorkflow, { steps: 3 });
    const loop10 = await measure(app, admin, reps, LoopWorkflow, { steps: 10 });

    emit({
      scenario: 'statements',
      metric: 'statements_per_run',
      value: three.total,
      n: reps,
      target: '<=8',
      params: { workflow: '3 steps', worker: 'idle' },
      detail: { until_result: three.untilResult, by_statement: three.byName, new_connections: three.newConnections, reps: three.reps },
    });
    emit({
      scenario: 'statements',
      metric: 'commits_per_run',
      value: three.commits,
      n: reps,
      params: { workflow: '3 steps' },
      detail: { xids_assigned_min: three.xidsMin, note: 'commits = writing autocommit statements; xids counted server-side, cluster-wide' },
    });
    const perStep = (loop10.total - loop3.total) / 7;
    const commitsPerStep = (loop10.commits - loop3.commits) / 7;
    emit({
      scenario: 'statements',
      metric: 'round_trips_per_step',
      value: perStep,
      n: reps,
      target: '<=2',
      params: { method: '(10-step run - 3-step run) / 7' },
      detail: { run_3_steps: loop3.byName, run_10_steps: loop10.byName, naive_10_step_total_per_step: loop10.total / 10 },
    });
    emit({
      scenario: 'statements',
      metric: 'commits_per_step',
      value: commitsPerStep,
      n: reps,
      target: '<=1',
      params: { method: '(10-step run - 3-step run) / 7' },
      detail: { xids_per_step: (loop10.xidsMin - loop3.xidsMin) / 7 },
    });
    emit({
      scenario: 'statements',
      metric: 'listen_connection_queries',
      value: three.listenerQueries + loop10.listenerQueries,
      n: reps * 2,
      target: '==0',
      detail: { notifications_received_per_run: three.notifications, note: 'the LISTEN connection only receives notifications' },
    });
  } finally {
    await admin.end();
    await app.close();
  }
}

async function measure<I>(
  app: BenchApp,
  admin: Client,
  reps: number,
  workflow: WorkflowRef<I, unknown>,
  input: I,
): Promise<RunCount & { reps: number[]; xidsMin: number }> {
  const runs: RunCount[] = [];
  for (let i = 0; i < reps; i++) runs.push(await countOne(app, admin, workflow, input));
  // Counts are deterministic except for races between the worker's re-poll and the client's read;
  // report the rep with the median total.
  const mid = median(runs.map((r) => r.total));
  const chosen = runs.find((r) => r.total === mid) ?? runs[0];
  const label = typeof workflow === 'string' ? workflow : workflow.name;
  note(`[statements] ${label} ${JSON.stringify(input)}: totals per rep ${runs.map((r) => r.total).join(', ')}; ${JSON.stringify(chosen.byName)}`);
  return {
    ...chosen,
    listenerQueries: runs.reduce((a, r) => a + r.listenerQueries, 0),
    reps: runs.map((r) => r.total),
    xidsMin: Math.min(...runs.map((r) => r.xids)),
  };
}

export async function countOne<I>(app: BenchApp, admin: Client, workflow: WorkflowRef<I, unknown>, input: I): Promise<RunCount> {
  await sleep(200); // the worker finished re-polling after the previous run
  const xid0 = await nextXid(admin);
  app.probe.start();
  const t0 = performance.now();
  const handle = await app.client.start(workflow, input);
  await handle.result();
  const ms = performance.now() - t0;
  const untilResult = app.probe.snapshot().length;
  await waitQuiet(app, 200);
  const result = app.probe.stop();
  const xids = (await nextXid(admin)) - xid0;
  const records: QueryRecord[] = result.records;
  return {
    total: records.length,
    untilResult,
    commits: records.filter((r) => r.write).length,
    xids,
    byName: countByName(records),
    newConnections: result.newConnections,
    listenerQueries: result.listenerQueries.length,
    notifications: result.notifications,
    ms,
  };
}

/** Resolves once no statement has been issued (and none is outstanding) for `quietMs`. */
async function waitQuiet(app: BenchApp, quietMs: number): Promise<void> {
  let seen = -1;
  for (;;) {
    const records = app.probe.snapshot();
    const busy = records.some((r) => r.t1 === undefined);
    if (!busy && records.length === seen) return;
    seen = records.length;
    await sleep(quietMs);
  }
}
