import Table from 'cli-table3';
import { RecoveryFigures, RunCounts, StepFigures } from './analysis';
import { ChaosConfig } from './config';
import { LogTally } from './fleet';
import { StallFigures } from './stall-analysis';

export interface Summary {
  date: string;
  machine: { cpus: number; cpuModel: string; loadAvg1mAtStart: number; node: string; postgres?: string };
  config: ChaosConfig;
  runs: RunCounts & { started: number; startErrors: number; clientFailures: number; failureSample: string[] };
  kills: number;
  skippedKills: number;
  restarts: number;
  nameClashes: number;
  unexpectedExits: Array<{ name: string; pid: number; exit: string; ready: boolean; tail: string }>;
  logs: LogTally;
  steps: StepFigures;
  recovery: RecoveryFigures;
  recoveryBoundMs: number;
  /** One entry per database restart (`--db-restarts`). */
  stalls: StallFigures;
  chaosMs: number;
  totalMs: number;
  timedOut: boolean;
  logDir: string;
  database: string;
  stepsPerRun: number;
}

/** A readable line on stderr (stdout carries only the JSON figures). */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

interface Invariant {
  name: string;
  ok: boolean;
  detail: string;
}

/** Prints the table (stderr) and the JSON line (stdout); true when every invariant holds. */
export function printReport(s: Summary): boolean {
  const crashes = s.unexpectedExits.filter((e) => e.ready);
  const invariants: Invariant[] = [
    { name: 'every run completed', ok: s.runs.completed === s.runs.runs && s.runs.startErrors === 0, detail: `${s.runs.completed} of ${s.runs.runs} (failed ${s.runs.failed}, cancelled ${s.runs.cancelled}, start errors ${s.runs.startErrors})` },
    { name: 'no run left non-terminal', ok: s.runs.nonTerminal === 0, detail: `${s.runs.nonTerminal} non-terminal` },
    {
      name: 'no committed step executed twice',
      ok: s.steps.executedAfterCommit === 0 && s.steps.committedWithoutExecution === 0,
      detail: `${s.steps.executedAfterCommit} execution(s) started after their step's commit; ${s.steps.committedWithoutExecution} commit(s) of an unfinished execution`,
    },
    {
      name: 'history matches results',
      ok: s.steps.missingSteps === 0 && s.steps.resultMismatches === 0,
      detail: `${s.steps.missingSteps} completed run(s) missing a step; ${s.steps.resultMismatches} result(s) differing from the committed outputs`,
    },
    {
      name: 'the chaos happened',
      ok: s.kills + s.stalls.perRestart.length > 0 && s.stalls.perRestart.length === s.config.dbRestarts,
      detail: `${s.kills} SIGKILL(s), ${s.stalls.perRestart.length} of ${s.config.dbRestarts} database restart(s)`,
    },
    { name: 'no worker crashed on its own', ok: crashes.length === 0, detail: `${crashes.length} unexpected exit(s) after ready` },
  ];
  const passed = invariants.every((i) => i.ok);
  const r = s.recovery;

  const compact = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };
  const table = new Table({ head: ['figure', 'value', 'note'], style: { head: [], border: [] }, wordWrap: true, colWidths: [34, 18, 62], chars: compact });
  const row = (figure: string, value: string | number, text = ''): void => void table.push([figure, String(value), text]);
  row('runs', s.runs.runs, `${s.config.workers} workers × concurrency ${s.config.concurrency}, ${s.stepsPerRun} steps + 1 sleep each`);
  row('completed', s.runs.completed, 'must equal runs');
  row('failed', s.runs.failed, 'must be 0');
  row('non-terminal', s.runs.nonTerminal, 'must be 0');
  row('kills (SIGKILL)', s.kills, s.config.killEveryMs > 0 ? `every ${s.config.killEveryMs} ms; ${s.skippedKills} tick(s) found no ready worker` : 'off (--kill-every=0)');
  row('restarts', s.restarts, `same name, new process; ${s.nameClashes} retried because the dead worker's name was still live`);
  row('runs orphaned by kills', r.orphanedRuns, `RUNNING under the victim's lease at its death; ${r.killsWithOrphans} kill(s) orphaned any`);
  row('step executions', s.steps.executions, `${s.steps.committedSteps} committed steps`);
  row('failed attempts (by design)', s.steps.failedAttempts, 'transient failures of charge, retried by its policy');
  row('re-executed uncommitted steps', s.steps.reexecutedUncommitted, `${s.steps.abandonedMidBody} killed mid-body, ${s.steps.finishedNotCommitted} finished but not committed; ${s.steps.stepsReexecuted} distinct steps`);
  row('committed steps executed again', s.steps.executedAfterCommit, 'must be 0');
  row('overlapping executions', s.steps.overlappingExecutions, 'a step body started while an earlier one still ran (informational)');
  row('max recovery time', `${r.maxRecoveryMs} ms`, `kill → every run the victim held claimed again; bound lease + poll = ${s.recoveryBoundMs} ms`);
  row('recovery p50 / p95 (per run)', `${r.p50RecoveryMs} / ${r.p95RecoveryMs} ms`, `${r.overBound} run(s) over the bound; ${r.unrecovered} never claimed again`);
  row('max claim after lease expiry', `${r.maxPickupAfterExpiryMs} ms`, 'lease expiry → next claim');
  if (s.config.dbRestarts > 0) {
    row('database restarts', s.stalls.perRestart.length, `stop -m fast / -m immediate alternately, ${s.config.dbDownMs} ms down each`);
    row('start errors', s.runs.startErrors, 'start() calls that threw (must be 0)');
    row('max stall across a restart', `${s.stalls.maxStallMs} ms`, 'longest time an in-flight run made no progress (last progress before the server was down → first after)');
    row('max resume after database up', `${s.stalls.maxResumeAfterUpMs} ms`, 'database accepting sessions again → every in-flight run progressed');
  }
  row('worker log lines', `${s.logs.errorLines} err / ${s.logs.warnLines} warn`, `${s.logs.retryWarnings} retry warnings, ${s.logs.leaseLostWarnings} lease-lost warnings`);
  row('chaos time', `${(s.chaosMs / 1000).toFixed(1)} s`, 'first start → last run finished');
  row('total time', `${(s.totalMs / 1000).toFixed(1)} s`, `${s.machine.cpus} CPUs, load ${s.machine.loadAvg1mAtStart.toFixed(2)} at start`);
  note(table.toString());

  const kills = new Table({ head: ['kill', 'worker#incarnation (pid)', 'at', 'runs orphaned', 'recovery', 'claim after lease expiry'], style: { head: [], border: [] }, chars: compact });
  const t0 = s.recovery.perKill[0]?.kill.killedAt ?? 0;
  s.recovery.perKill.forEach((k, i) =>
    kills.push([i + 1, `${k.kill.name}#${k.kill.generation} (${k.kill.pid})`, `+${((k.kill.killedAt - t0) / 1000).toFixed(1)} s`, k.orphaned, k.unrecovered > 0 ? `${k.unrecovered} never claimed` : `${k.recoveryMs} ms`, `${k.maxPickupAfterExpiryMs} ms`]),
  );
  if (s.recovery.perKill.length > 0) note(kills.toString());
  const restarts = new Table({ head: ['restart', 'mode', 'at', 'down (stop → first session)', 'runs in flight', 'stall max / p50', 'resume after up', 'stuck'], style: { head: [], border: [] }, chars: compact });
  const c0 = s.stalls.perRestart[0]?.restart.stopAt ?? 0;
  for (const r of s.stalls.perRestart) {
    restarts.push([r.restart.n, r.restart.mode, `+${((r.restart.stopAt - c0) / 1000).toFixed(1)} s`, `${r.restart.upAt - r.restart.stopAt} ms`, r.inFlight, `${r.maxStallMs} / ${r.p50StallMs} ms`, `${r.maxResumeAfterUpMs} ms`, r.stuck]);
  }
  if (s.stalls.perRestart.length > 0) note(restarts.toString());

  for (const i of invariants) note(`${i.ok ? 'PASS' : 'FAIL'}  ${i.name}: ${i.detail}`);
  for (const v of s.steps.violations.slice(0, 10)) note(`  violation: ${v}`);
  for (const e of s.unexpectedExits.slice(0, 3)) note(`  unexpected exit of ${e.name} (pid ${e.pid}, ${e.exit}, ${e.ready ? 'after' : 'before'} ready):\n${e.tail}`);
  for (const n of s.runs.nonTerminalSample) note(`  non-terminal: ${JSON.stringify(n)}`);
  for (const m of s.runs.failureSample) note(`  failure: ${m}`);
  if (s.logs.samples.length > 0) note(`worker log samples:\n  ${s.logs.samples.join('\n  ')}`);
  note(`worker logs: ${s.logDir}; database ${s.database} kept for inspection`);
  note(passed ? 'chaos: PASS' : 'chaos: FAIL');

  const figures = {
    chaos: passed ? 'pass' : 'fail',
    date: s.date,
    machine: s.machine,
    params: {
      runs: s.config.runs, workers: s.config.workers, kill_every_ms: s.config.killEveryMs, rate_per_s: s.config.rate, concurrency: s.config.concurrency,
      lease_ms: s.config.leaseMs, heartbeat_ms: s.config.heartbeatMs, poll_ms: s.config.pollMs, seed: s.config.seed,
      db_restarts: s.config.dbRestarts, db_down_ms: s.config.dbDownMs,
    },
    runs: s.runs.runs,
    completed: s.runs.completed,
    failed: s.runs.failed,
    non_terminal: s.runs.nonTerminal,
    start_errors: s.runs.startErrors,
    client_failures: s.runs.clientFailures,
    kills: s.kills,
    restarts: s.restarts,
    name_clashes: s.nameClashes,
    orphaned_runs: r.orphanedRuns,
    step_executions: s.steps.executions,
    committed_steps: s.steps.committedSteps,
    failed_attempts: s.steps.failedAttempts,
    reexecuted_uncommitted_steps: s.steps.reexecutedUncommitted,
    reexecuted_killed_mid_body: s.steps.abandonedMidBody,
    reexecuted_finished_not_committed: s.steps.finishedNotCommitted,
    committed_steps_executed_again: s.steps.executedAfterCommit,
    overlapping_executions: s.steps.overlappingExecutions,
    max_recovery_ms: r.maxRecoveryMs,
    p50_recovery_ms: r.p50RecoveryMs,
    p95_recovery_ms: r.p95RecoveryMs,
    recovery_bound_ms: s.recoveryBoundMs,
    recoveries_over_bound: r.overBound,
    max_claim_after_lease_expiry_ms: r.maxPickupAfterExpiryMs,
    db_restarts: s.stalls.perRestart.map((r) => ({
      mode: r.restart.mode, down_ms: r.restart.upAt - r.restart.stopAt, in_flight: r.inFlight, max_stall_ms: r.maxStallMs,
      p50_stall_ms: r.p50StallMs, resume_after_up_ms: r.maxResumeAfterUpMs, stuck: r.stuck,
    })),
    max_stall_ms: s.stalls.maxStallMs,
    max_resume_after_db_up_ms: s.stalls.maxResumeAfterUpMs,
    worker_error_lines: s.logs.errorLines,
    unexpected_worker_exits: s.unexpectedExits.length,
    chaos_s: Math.round(s.chaosMs / 100) / 10,
    total_s: Math.round(s.totalMs / 100) / 10,
    invariants: Object.fromEntries(invariants.map((i) => [i.name, i.ok])),
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  return passed;
}
