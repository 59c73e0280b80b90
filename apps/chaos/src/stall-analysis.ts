/**
 * What each database restart cost the runs that were in flight: how long each went without progress.
 * Progress is anything a run leaves behind: a step body's ledger row (start or end), a committed step
 * or marker row, its own completion. Lease renewals are not progress.
 */
import { Pool } from 'pg';
import { RestartRecord } from './database-server';

export interface RestartStall {
  restart: RestartRecord;
  /** Runs started before the server was down and not finished then. */
  inFlight: number;
  /** Longest gap of one in-flight run between its last progress before the server was down and its first after. */
  maxStallMs: number;
  p50StallMs: number;
  /** Database accepting sessions again → the last in-flight run's first progress: the engine's share of the stall. */
  maxResumeAfterUpMs: number;
  /** In-flight runs that never progressed again. */
  stuck: number;
}

export interface StallFigures {
  perRestart: RestartStall[];
  maxStallMs: number;
  maxResumeAfterUpMs: number;
}

export async function analyzeStalls(pool: Pool, runIds: string[], restarts: RestartRecord[]): Promise<StallFigures> {
  const perRestart: RestartStall[] = [];
  for (const restart of restarts) {
    // The pivot is the moment the stop command returned: the server is down then, so every run's gap
    // around it spans the whole outage (events while the stop was still in progress fall before it).
    const downAt = new Date(restart.stoppedAt);
    const { rows } = await pool.query<{ id: string; before: Date | null; after: Date | null }>(
      `with in_flight as (
         select id, created_at from kagzi.workflow_runs
         where id = any($1::uuid[]) and created_at <= $2 and (completed_at is null or completed_at > $2)
       ), events as (
         select run_id, at from public.chaos_effects where run_id in (select id from in_flight)
         union all
         select workflow_run_id, completed_at from kagzi.step_runs where workflow_run_id in (select id from in_flight) and completed_at is not null
         union all
         select id, completed_at from kagzi.workflow_runs where id in (select id from in_flight) and completed_at is not null
         union all
         select id, created_at from in_flight
       )
       select run_id as id, max(at) filter (where at <= $2) as before, min(at) filter (where at > $2) as after
       from events group by run_id`,
      [runIds, downAt],
    );
    const stalls: number[] = [];
    let resume = 0;
    let stuck = 0;
    for (const r of rows) {
      if (!r.after || !r.before) {
        stuck++;
        continue;
      }
      stalls.push(r.after.getTime() - r.before.getTime());
      resume = Math.max(resume, r.after.getTime() - restart.upAt);
    }
    stalls.sort((a, b) => a - b);
    perRestart.push({
      restart,
      inFlight: rows.length,
      maxStallMs: stalls.at(-1) ?? 0,
      p50StallMs: stalls.length === 0 ? 0 : stalls[Math.ceil(stalls.length / 2) - 1],
      maxResumeAfterUpMs: resume,
      stuck,
    });
  }
  return {
    perRestart,
    maxStallMs: Math.max(0, ...perRestart.map((r) => r.maxStallMs)),
    maxResumeAfterUpMs: Math.max(0, ...perRestart.map((r) => r.maxResumeAfterUpMs)),
  };
}
