import { Injectable } from '@nestjs/common';
import { isUuid } from '../common/ids';
import { RunStatus, RunSummary, WorkflowVersionInfo } from '../interfaces/run.interface';
import { KagziDatabase } from '../persistence/kagzi-database';
import { toRunSummary, toVersionInfo } from '../persistence/run.mapper';
import { RunRow, VersionRow } from '../persistence/run.rows';
import { listVersions } from '../persistence/sql/list-versions.sql';
import { opsStats } from '../persistence/sql/ops-stats.sql';
import { searchRuns } from '../persistence/sql/search-runs.sql';

/** Runs by status and the backlog, from one snapshot (the statement `kagzi stats` runs). */
export interface DashboardStats {
  /** Runs per status (statuses with none are absent). */
  byStatus: Partial<Record<RunStatus, number>>;
  /** Runs due now that no worker holds: queued, woken, backing off, or whose lease lapsed. */
  backlog: number;
  /** The oldest due time in the backlog; absent when it is empty. */
  oldestDueAt?: Date;
  /** The backlog per (workflow, version), oldest due first. */
  backlogByWorkflow: Array<{
    /** The workflow's name. */
    workflowName: string;
    /** The version. */
    version: number;
    /** Its runs due now that no worker holds. */
    backlog: number;
    /** The oldest due time among them. */
    oldestDueAt: Date;
  }>;
  /** The database's time of the snapshot. */
  measuredAt: Date;
}

interface StatsRow {
  by_status: Partial<Record<RunStatus, number>>;
  backlog: number;
  oldest_due_at: Date | null;
  backlog_by_workflow: Array<{ workflow_name: string; version: number; backlog: number; oldest_due_at: string }>;
  measured_at: Date;
}

/**
 * The reads the dashboard needs beyond the client's: each one statement, on `db.reads` (the read replica
 * with `database.readUrl`, like the client's lists): they only display.
 */
@Injectable()
export class DashboardStore {
  constructor(private readonly db: KagziDatabase) {}

  /** Every workflow with its versions (default, deprecated, served, runs in flight), by name. */
  async workflows(): Promise<Array<{ name: string; versions: WorkflowVersionInfo[] }>> {
    const rows = await this.db.reads.run<VersionRow>(listVersions.with({ name: null }));
    const byName = new Map<string, WorkflowVersionInfo[]>();
    for (const row of rows) {
      const versions = byName.get(row.workflow_name) ?? [];
      versions.push(toVersionInfo(row));
      byName.set(row.workflow_name, versions);
    }
    return [...byName].map(([name, versions]) => ({ name, versions }));
  }

  /** The run with id `q`, or the runs whose idempotency key is `q`, narrowed by the other filters. */
  async search(q: string, filter: { name?: string; statuses?: RunStatus[]; limit: number }): Promise<RunSummary[]> {
    const rows = await this.db.reads.run<RunRow>(searchRuns.with({ runId: isUuid(q) ? q.toLowerCase() : null, key: q, ...filter }));
    return rows.map(toRunSummary);
  }

  async stats(): Promise<DashboardStats> {
    const [row] = await this.db.reads.run<StatsRow>(opsStats.with());
    return {
      byStatus: row.by_status,
      backlog: row.backlog,
      ...(row.oldest_due_at ? { oldestDueAt: row.oldest_due_at } : {}),
      backlogByWorkflow: row.backlog_by_workflow.map((b) => ({ workflowName: b.workflow_name, version: b.version, backlog: b.backlog, oldestDueAt: new Date(b.oldest_due_at) })),
      measuredAt: row.measured_at,
    };
  }
}
