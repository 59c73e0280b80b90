import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { BenchApp, bootBenchApp } from '../bench-app';
import { countByName, QueryRecord, waitQuiet } from '../probe';
import { emit, median, note, round, sleep, summarize } from '../report';
import { ScenarioContext } from '../scenario';
import { SignalWaitWorkflow, signalStepStarts } from '../workflows';

/** One signal round trip: times are `performance.now()` ms. */
interface Round {
  /** Just before `client.signal()`. */
  t0: number;
  /** `client.signal()` resolved (the signal is stored). */
  sent: number;
  /** The body of the step after the wait started. */
  step: number;
  /** `result()` resolved. */
  end: number;
}

/**
 * client.signal() → the body of the step after `ctx.waitForSignal()` starts, one run at a time with
 * the default worker options. Each run is first parked (WAITING, no lease) and the worker left idle
 * (no statement for 20 ms), so the signal must wake it: the send makes the run due and NOTIFYs, the
 * worker claims it, replays to the wait, consumes the signal and runs the next step. Statements are
 * counted as in `statements`: an idle worker with a 1-minute fallback poll, a few runs, median kept.
 */
export async function runSignal(ctx: ScenarioContext): Promise<void> {
  const { signalN: n, signalWarmup: warmup, statementsReps: reps } = ctx.config;
  let seq = 0;

  const app = await bootBenchApp(ctx.target, {});
  const admin = new Client({ connectionString: app.db.url });
  await admin.connect();
  try {
    await app.reset();
    app.probe.start(); // the idle check reads the probe, so it records during the warm-up too
    for (let i = 0; i < warmup; i++) await oneRound(app, admin, `warm-${seq++}`, 20);
    app.probe.start();
    const rounds: Round[] = [];
    for (let i = 0; i < n; i++) rounds.push(await oneRound(app, admin, `run-${seq++}`, 20));
    await app.probe.settled();
    const { records } = app.probe.stop();

    const total = summarize(rounds.map((r) => r.step - r.t0));
    const perRun = rounds.map((r) => inWindow(records, r.t0, r.step));
    const statements = median(perRun.map((w) => w.length));
    const typical = perRun.find((w) => w.length === statements) ?? [];
    const phases = phaseBreakdown(rounds, perRun);
    for (const p of ['p50', 'p95', 'p99'] as const) {
      emit({
        scenario: 'signal',
        metric: `round_trip_${p}_ms`,
        value: total[p],
        unit: 'ms',
        n,
        target: p === 'p50' ? '<=10' : undefined,
        params: { from: 'client.signal()', to: 'next step body starts', worker: 'idle', worker_concurrency: 10, warmup },
        detail:
          p === 'p50'
            ? {
                ...total,
                statements_per_round_trip: statements,
                commits_per_round_trip: typical.filter((r) => r.write).length,
                by_statement: countByName(typical),
                phases_median_ms: phases,
                signal_to_result_p50_ms: summarize(rounds.map((r) => r.end - r.t0)).p50,
              }
            : undefined,
      });
    }
    note(`[signal] median phases (ms): ${JSON.stringify(phases)}`);
  } finally {
    await admin.end();
    await app.close();
  }

  // Statement counts with no timer-driven claim possible inside the window (as in `statements`).
  const quiet = await bootBenchApp(ctx.target, { pollInterval: '1m' });
  const quietAdmin = new Client({ connectionString: quiet.db.url });
  await quietAdmin.connect();
  try {
    await quiet.reset();
    quiet.probe.start();
    for (let i = 0; i < 3; i++) await oneRound(quiet, quietAdmin, `warm-${seq++}`, 200);
    const counts: Array<{ untilStep: QueryRecord[]; rest: QueryRecord[]; notifications: number; newConnections: number; listenerQueries: number }> = [];
    for (let i = 0; i < reps; i++) {
      quiet.probe.start();
      const round = await oneRound(quiet, quietAdmin, `count-${seq++}`, 200);
      await waitQuiet(quiet.probe, 200);
      const result = quiet.probe.stop();
      const after = result.records.filter((r) => r.t0 >= round.t0);
      counts.push({
        untilStep: after.filter((r) => r.t0 < round.step),
        rest: after.filter((r) => r.t0 >= round.step),
        notifications: result.notifications,
        newConnections: result.newConnections,
        listenerQueries: result.listenerQueries.length,
      });
    }
    const mid = median(counts.map((c) => c.untilStep.length));
    const chosen = counts.find((c) => c.untilStep.length === mid) ?? counts[0];
    note(`[signal] statements signal → next step per rep ${counts.map((c) => c.untilStep.length).join(', ')}; ${JSON.stringify(countByName(chosen.untilStep))}`);
    emit({
      scenario: 'signal',
      metric: 'statements_per_round_trip',
      value: chosen.untilStep.length,
      n: reps,
      params: { from: 'client.signal()', to: 'next step body starts', worker: 'idle, fallback poll 1m' },
      detail: {
        commits: chosen.untilStep.filter((r) => r.write).length,
        by_statement: countByName(chosen.untilStep),
        reps: counts.map((c) => c.untilStep.length),
        rest_of_run: { statements: chosen.rest.length, commits: chosen.rest.filter((r) => r.write).length, by_statement: countByName(chosen.rest) },
        new_connections: chosen.newConnections,
        listen_connection_queries: counts.reduce((a, c) => a + c.listenerQueries, 0),
        notifications_received: chosen.notifications,
        note: 'window: just before client.signal() until the step body starts; rest_of_run: from then until the worker is quiet for 200 ms (result() was already waiting)',
      },
    });
  } finally {
    await quietAdmin.end();
    await quiet.close();
  }
}

/**
 * Starts a run, waits until it is parked WAITING and the worker has been quiet for `idleMs`, then
 * signals it. `result()` is called before the signal, so its read is not inside the measured window.
 */
async function oneRound(app: BenchApp, admin: Client, token: string, idleMs: number): Promise<Round> {
  const handle = await app.client.start(SignalWaitWorkflow, { token });
  const result = handle.result();
  await untilParked(admin, app.db.schema, handle.runId);
  await waitQuiet(app.probe, idleMs);
  const t0 = performance.now();
  await app.client.signal(handle.runId, 'go', 1);
  const sent = performance.now();
  await result;
  const end = performance.now();
  const step = signalStepStarts.get(token);
  signalStepStarts.delete(token);
  if (step === undefined) throw new Error(`run ${handle.runId} finished but its step after the signal wait never started in this process`);
  return { t0, sent, step, end };
}

/** Polls the run row on the bench's own connection (not the library's pool) until it is WAITING with no lease. */
async function untilParked(admin: Client, schema: string, runId: string): Promise<void> {
  const until = performance.now() + 10_000;
  for (;;) {
    const { rows } = await admin.query<{ status: string; lease_owner: string | null }>({
      name: 'bench_signal_parked',
      text: `select status, lease_owner from "${schema}".workflow_runs where id = $1`,
      values: [runId],
    });
    if (rows[0]?.status === 'WAITING' && rows[0].lease_owner === null) return;
    if (performance.now() > until) throw new Error(`run ${runId} did not park WAITING within 10 s (status ${rows[0]?.status ?? 'missing'})`);
    await sleep(1);
  }
}


function inWindow(records: readonly QueryRecord[], t0: number, t1: number): QueryRecord[] {
  return records.filter((r) => r.t0 >= t0 && r.t0 < t1);
}

/**
 * Per round trip: `client.signal()` until the send's reply; the send's reply → claim issued (NOTIFY
 * delivery + worker wake-up); the claim; the claim's reply → step body starts (loading the run,
 * replaying to the wait, consuming the signal); and `client.signal()` resolving after the send's reply.
 */
function phaseBreakdown(rounds: readonly Round[], perRun: ReadonlyArray<readonly QueryRecord[]>): Record<string, number> {
  const phases: Record<string, number[]> = { send: [], notify_to_claim: [], claim: [], claim_to_step: [], signal_call: [] };
  rounds.forEach((r, i) => {
    const send = perRun[i].find((q) => q.name === 'sendSignal');
    const claim = perRun[i].find((q) => q.name === 'claimRuns' && (q.rows ?? 0) > 0);
    if (!send?.t1 || !claim?.t1) return;
    phases.send.push(send.t1 - r.t0);
    phases.notify_to_claim.push(claim.t0 - send.t1);
    phases.claim.push(claim.t1 - claim.t0);
    phases.claim_to_step.push(r.step - claim.t1);
    phases.signal_call.push(r.sent - r.t0);
  });
  return Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, round(median(v), 3)]));
}
