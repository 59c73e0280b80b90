import { RUN_STATUSES, RunStatus } from '../interfaces/run.interface';
import type { KagziDatabase } from '../persistence/kagzi-database';
import { opsStats } from '../persistence/sql/ops-stats.sql';

/** What `kagzi stats` shows: the figures of one statement, so all from one snapshot. */
export interface OpsStats {
  /** Every status, 0 when no run has it. */
  runsByStatus: Record<RunStatus, number>;
  total: number;
  /** Runs due now that no worker holds: queued, woken, backing off, or whose lease lapsed. */
  backlog: number;
  /** The earliest due time among them: how long the oldest has waited. */
  oldestDueAt?: Date;
  oldestDueAgeMs?: number;
  backlogByWorkflow: Array<{ workflowName: string; version: number; backlog: number; oldestDueAt: Date }>;
  /** The database's clock when the figures were taken. */
  measuredAt: Date;
}

interface OpsStatsRow {
  by_status: Record<string, number>;
  backlog: number;
  oldest_due_at: Date | null;
  backlog_by_workflow: Array<{ workflow_name: string; version: number; backlog: number; oldest_due_at: string }>;
  measured_at: Date;
}

/** Reads the operational figures of `kagzi stats` (the row becomes camelCase here, once), on the read replica if one is configured. */
export class OpsStatsReader {
  constructor(private readonly db: KagziDatabase) {}

  async read(): Promise<OpsStats> {
    const [row] = await this.db.reads.run<OpsStatsRow>(opsStats.with());
    const runsByStatus = Object.fromEntries(RUN_STATUSES.map((status) => [status, row.by_status[status] ?? 0])) as Record<RunStatus, number>;
    const stats: OpsStats = {
      runsByStatus,
      total: Object.values(runsByStatus).reduce((sum, n) => sum + n, 0),
      backlog: row.backlog,
      backlogByWorkflow: row.backlog_by_workflow.map((b) => ({
        workflowName: b.workflow_name,
        version: b.version,
        backlog: b.backlog,
        oldestDueAt: new Date(b.oldest_due_at),
      })),
      measuredAt: row.measured_at,
    };
    if (row.oldest_due_at) {
      stats.oldestDueAt = row.oldest_due_at;
      stats.oldestDueAgeMs = Math.max(0, row.measured_at.getTime() - row.oldest_due_at.getTime());
    }
    return stats;
  }
}
