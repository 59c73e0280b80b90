import { ScheduleInfo } from '../interfaces/run.interface';
import { KagziDatabase } from './kagzi-database';
import { listSchedules } from './sql/list-schedules.sql';
import { registerSchedules, ScheduleDeclaration } from './sql/register-schedules.sql';
import { ScheduleTick, tickSchedules } from './sql/tick-schedules.sql';

export type { ScheduleDeclaration } from './sql/register-schedules.sql';
export type { ScheduleTick } from './sql/tick-schedules.sql';

/**
 * What firing one schedule's tick did: started a run, skipped it (its previous run was in flight), or
 * found the tick's run already there (its idempotency key was taken: nothing started).
 */
export type TickOutcome = { name: string; version: number; tick: Date } & ({ kind: 'started'; runId: string } | { kind: 'skipped' | 'existing' });

interface ScheduleRow {
  workflow_name: string;
  version: number;
  cron: string;
  timezone: string;
  next_run_at: Date;
  last_run_at: Date | null;
  last_run_id: string | null;
  skipped: number;
}

interface TickRow {
  workflow_name: string;
  version: number;
  tick: Date;
  busy: boolean;
  run_id: string | null;
}

/** Cron schedules of workflows: registration at boot, ticks by workers, listing. */
export class ScheduleStore {
  constructor(private readonly db: KagziDatabase) {}

  /** A worker's boot: upserts its declared schedules and deletes those of served pairs that declare none. */
  async register(declared: ScheduleDeclaration[], undeclared: Array<{ name: string; version: number }>): Promise<void> {
    if (declared.length + undeclared.length > 0) await this.db.run(registerSchedules.with({ declared, undeclared }));
  }

  /**
   * Fires `ticks` (one per schedule at most); returns what happened to each tick this call claimed. A
   * tick another process claimed, or of a row that is not the default version's, is absent.
   */
  async tick(ticks: ScheduleTick[]): Promise<TickOutcome[]> {
    if (ticks.length === 0) return [];
    const rows = await this.db.run<TickRow>(tickSchedules.with({ ticks }));
    return rows.map((r): TickOutcome => {
      const base = { name: r.workflow_name, version: r.version, tick: r.tick };
      if (r.run_id) return { ...base, kind: 'started', runId: r.run_id };
      return { ...base, kind: r.busy ? 'skipped' : 'existing' };
    });
  }

  async list(): Promise<ScheduleInfo[]> {
    const rows = await this.db.run<ScheduleRow>(listSchedules.with());
    return rows.map(toScheduleInfo);
  }
}

function toScheduleInfo(row: ScheduleRow): ScheduleInfo {
  return {
    workflowName: row.workflow_name,
    version: row.version,
    cron: row.cron,
    timezone: row.timezone,
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at ?? undefined,
    lastRunId: row.last_run_id ?? undefined,
    skipped: row.skipped,
  };
}
