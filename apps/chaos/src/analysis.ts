/**
 * What the database says after the chaos: run outcomes, every step execution classified against the
 * committed step rows, and how long each kill took to recover from.
 */
import { Pool } from 'pg';
import { KillRecord } from './fleet';
import { ChaosOutput, STEP_LABELS, StepLabel } from './chaos.workflow';

export interface RunCounts {
  runs: number;
  completed: number;
  failed: number;
  cancelled: number;
  nonTerminal: number;
  nonTerminalSample: Array<{ id: string; status: string; lease_owner: string | null; due_at: Date | null }>;
}

export interface StepFigures {
  /** Committed STEP rows. */
  committedSteps: number;
  /** Executions of step bodies (rows with phase 'start'). */
  executions: number;
  /** Executions that threw on purpose (the transient failures of `charge`), retried as the policy says. */
  failedAttempts: number;
  /** Executions lost to a kill and run again: killed mid-body ... */
  abandonedMidBody: number;
  /** ... or finished but killed before their commit landed. */
  finishedNotCommitted: number;
  /** abandonedMidBody + finishedNotCommitted: executions beyond the first of a step that never committed. */
  reexecutedUncommitted: number;
  /** Distinct steps that ran more than once for a reason other than a failed attempt. */
  stepsReexecuted: number;
  /** Executions that STARTED after their step's committed completed_at: a committed step executed again. Must be 0. */
  executedAfterCommit: number;
  /** Committed outputs naming an execution that never finished successfully. Must be 0. */
  committedWithoutExecution: number;
  /** Completed runs without exactly one COMPLETED row per step label. Must be 0. */
  missingSteps: number;
  /** Results returned to the client that differ from the committed outputs. Must be 0. */
  resultMismatches: number;
  /** Two executions of one step whose bodies overlapped in time (a killed body ends at its kill). Informational. */
  overlappingExecutions: number;
  violations: string[];
}

export interface KillRecovery {
  kill: KillRecord;
  /** Runs the victim held (RUNNING, its lease) when it died. */
  orphaned: number;
  /** Kill → the last of those runs claimed again, ms (0 when it held none). */
  recoveryMs: number;
  /** Worst claim after lease expiry, ms. */
  maxPickupAfterExpiryMs: number;
  unrecovered: number;
}

export interface RecoveryFigures {
  perKill: KillRecovery[];
  orphanedRuns: number;
  killsWithOrphans: number;
  maxRecoveryMs: number;
  p50RecoveryMs: number;
  p95RecoveryMs: number;
  /** Over all orphaned runs: time from the expiry of the victim's lease to the next claim. */
  maxPickupAfterExpiryMs: number;
  unrecovered: number;
  /** Orphaned runs claimed again later than leaseDuration + pollInterval after the kill. */
  overBound: number;
}

export async function countRuns(pool: Pool, runIds: string[]): Promise<RunCounts> {
  const { rows } = await pool.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from kagzi.workflow_runs where id = any($1::uuid[]) group by status',
    [runIds],
  );
  const by = Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
  const nonTerminal = (by.PENDING ?? 0) + (by.RUNNING ?? 0) + (by.SLEEPING ?? 0);
  const { rows: sample } = await pool.query(
    `select id, status, lease_owner, due_at from kagzi.workflow_runs
     where id = any($1::uuid[]) and status in ('PENDING', 'RUNNING', 'SLEEPING') order by due_at limit 5`,
    [runIds],
  );
  return {
    runs: runIds.length,
    completed: by.COMPLETED ?? 0,
    failed: by.FAILED ?? 0,
    cancelled: by.CANCELLED ?? 0,
    nonTerminal: nonTerminal + (runIds.length - rows.reduce((a, r) => a + r.n, 0)),
    nonTerminalSample: sample,
  };
}

interface Execution {
  exec: string;
  runId: string;
  step: StepLabel;
  worker: string;
  pid: number;
  startAt?: number;
  end?: 'ok' | 'error';
  endAt?: number;
}

interface StepRow {
  run_id: string;
  step_key: string;
  status: string;
  exec: string | null;
  completed_at: Date | null;
}

export async function analyzeSteps(
  pool: Pool,
  runIds: string[],
  results: Map<string, ChaosOutput>,
  kills: KillRecord[],
): Promise<StepFigures> {
  const { rows: effects } = await pool.query<{ run_id: string; step: StepLabel; exec_id: string; worker: string; pid: number; phase: string; at: Date }>(
    'select run_id, step, exec_id, worker, pid, phase, at from public.chaos_effects where run_id = any($1::uuid[]) order by id',
    [runIds],
  );
  const { rows: steps } = await pool.query<StepRow>(
    `select workflow_run_id as run_id, step_key, status, output->'json'->>'exec' as exec, completed_at
     from kagzi.step_runs where workflow_run_id = any($1::uuid[]) and kind = 'STEP'`,
    [runIds],
  );
  const killedAtByPid = new Map(kills.map((k) => [k.pid, k.killedAt]));

  const execs = new Map<string, Execution>();
  for (const e of effects) {
    let x = execs.get(e.exec_id);
    if (!x) execs.set(e.exec_id, (x = { exec: e.exec_id, runId: e.run_id, step: e.step, worker: e.worker, pid: e.pid }));
    if (e.phase === 'start') x.startAt = e.at.getTime();
    else {
      x.end = e.phase as 'ok' | 'error';
      x.endAt = e.at.getTime();
    }
  }
  const execsOf = new Map<string, Execution[]>();
  for (const x of execs.values()) {
    const key = `${x.runId}/${x.step}`;
    const list = execsOf.get(key) ?? [];
    list.push(x);
    execsOf.set(key, list);
  }
  for (const list of execsOf.values()) list.sort((a, b) => (a.startAt ?? 0) - (b.startAt ?? 0));

  // Committed step rows, by run and label (the label of the execution the output names).
  const committed = new Map<string, StepRow>();
  const violations: string[] = [];
  const f: StepFigures = {
    committedSteps: 0,
    executions: [...execs.values()].filter((x) => x.startAt !== undefined).length,
    failedAttempts: 0,
    abandonedMidBody: 0,
    finishedNotCommitted: 0,
    reexecutedUncommitted: 0,
    stepsReexecuted: 0,
    executedAfterCommit: 0,
    committedWithoutExecution: 0,
    missingSteps: 0,
    resultMismatches: 0,
    overlappingExecutions: 0,
    violations,
  };
  for (const row of steps) {
    if (row.status !== 'COMPLETED') continue;
    f.committedSteps++;
    const x = row.exec ? execs.get(row.exec) : undefined;
    if (!x || x.end !== 'ok' || x.runId !== row.run_id) {
      f.committedWithoutExecution++;
      violations.push(`run ${row.run_id} step ${row.step_key}: committed output names execution ${row.exec}, which did not finish successfully`);
      continue;
    }
    committed.set(`${row.run_id}/${x.step}`, row);
  }

  const { rows: completedRuns } = await pool.query<{ id: string }>(
    `select id from kagzi.workflow_runs where id = any($1::uuid[]) and status = 'COMPLETED'`,
    [runIds],
  );
  for (const { id } of completedRuns) {
    const missing = STEP_LABELS.filter((label) => !committed.has(`${id}/${label}`));
    if (missing.length > 0) {
      f.missingSteps++;
      violations.push(`run ${id} completed without a committed ${missing.join(', ')}`);
    }
    const result = results.get(id);
    if (result && STEP_LABELS.some((label) => result[label] !== committed.get(`${id}/${label}`)?.exec)) {
      f.resultMismatches++;
      violations.push(`run ${id}: result ${JSON.stringify(result)} differs from the committed step outputs`);
    }
  }

  for (const [key, list] of execsOf) {
    const row = committed.get(key);
    const committedAt = row?.completed_at?.getTime();
    let redone = false;
    for (const x of list) {
      if (x.startAt === undefined) continue;
      if (committedAt !== undefined && x.startAt > committedAt) {
        f.executedAfterCommit++;
        violations.push(
          `${key}: execution ${x.exec} (worker ${x.worker}, pid ${x.pid}) started ${x.startAt - committedAt} ms after the step was committed`,
        );
        continue;
      }
      if (row && x.exec === row.exec) continue;
      if (x.end === 'error') f.failedAttempts++;
      else if (x.end === undefined) {
        f.abandonedMidBody++;
        redone = true;
      } else {
        f.finishedNotCommitted++;
        redone = true;
      }
    }
    if (redone) f.stepsReexecuted++;
    // Overlap: a later execution started before an earlier one ended (a killed body ends at its kill).
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1];
      const prevEnd = prev.endAt ?? killedAtByPid.get(prev.pid);
      if (prevEnd !== undefined && list[i].startAt !== undefined && (list[i].startAt as number) < prevEnd) f.overlappingExecutions++;
    }
  }
  f.reexecutedUncommitted = f.abandonedMidBody + f.finishedNotCommitted;
  return f;
}

export async function analyzeRecovery(pool: Pool, kills: KillRecord[], boundMs: number): Promise<RecoveryFigures> {
  const perKill: KillRecovery[] = [];
  const runRecoveries: number[] = [];
  let maxPickup = 0;
  let overBound = 0;
  for (const kill of kills) {
    const until = kill.replacementSpawnedAt ?? kill.exitedAt ?? kill.killedAt + 1_000;
    const { rows } = await pool.query<{ run_id: string; lease_expiry: Date | null; reclaimed_at: Date | null }>(
      `with held as (
         select run_id, max(lease_epoch) as epoch from public.chaos_run_audit
         where lease_owner = $1 and status = 'RUNNING' and at >= $2 and at < $3
         group by run_id
       ), last_of_epoch as (
         select distinct on (a.run_id) a.run_id, a.status, a.lease_owner, a.due_at, h.epoch
         from public.chaos_run_audit a join held h on h.run_id = a.run_id and a.lease_epoch = h.epoch
         order by a.run_id, a.id desc
       )
       select l.run_id, l.due_at as lease_expiry,
              (select min(n.at) from public.chaos_run_audit n
               where n.run_id = l.run_id and n.lease_epoch > l.epoch and n.status = 'RUNNING') as reclaimed_at
       from last_of_epoch l where l.status = 'RUNNING' and l.lease_owner = $1`,
      [kill.name, new Date(kill.spawnedAt), new Date(until)],
    );
    let recovery = 0;
    let pickup = 0;
    let unrecovered = 0;
    for (const r of rows) {
      if (!r.reclaimed_at) {
        unrecovered++;
        continue;
      }
      const ms = r.reclaimed_at.getTime() - kill.killedAt;
      runRecoveries.push(ms);
      if (ms > boundMs) overBound++;
      recovery = Math.max(recovery, ms);
      if (r.lease_expiry) pickup = Math.max(pickup, r.reclaimed_at.getTime() - r.lease_expiry.getTime());
    }
    maxPickup = Math.max(maxPickup, pickup);
    perKill.push({ kill, orphaned: rows.length, recoveryMs: recovery, maxPickupAfterExpiryMs: pickup, unrecovered });
  }
  runRecoveries.sort((a, b) => a - b);
  return {
    perKill,
    orphanedRuns: perKill.reduce((a, k) => a + k.orphaned, 0),
    killsWithOrphans: perKill.filter((k) => k.orphaned > 0).length,
    maxRecoveryMs: Math.max(0, ...perKill.map((k) => k.recoveryMs)),
    p50RecoveryMs: percentile(runRecoveries, 50),
    p95RecoveryMs: percentile(runRecoveries, 95),
    maxPickupAfterExpiryMs: maxPickup,
    unrecovered: perKill.reduce((a, k) => a + k.unrecovered, 0),
    overBound,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
